package wasmrewrite

import (
	"bytes"
	"math"
	"sort"
)

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// sectionOrder is the order the binary format requires of non-custom
// sections; the output is written in this order, which is the input's.
var sectionOrder = [...]byte{secType, secImport, secFunction, secTable, secMemory, secTag,
	secGlobal, secExport, secStart, secElement, secDataCount, secCode, secData}

// sectionRank is the position of each section id in sectionOrder, from 1.
var sectionRank = func() (t [14]int) {
	for i, id := range sectionOrder {
		t[id] = i + 1
	}
	return t
}()

var (
	wasmMagic     = []byte{0x00, 'a', 's', 'm'}
	wasmVersion1  = []byte{0x01, 0x00, 0x00, 0x00}
	componentVers = []byte{0x0d, 0x00, 0x01, 0x00} // the component model's layer 1
	// newGlobal is `(global (mut i32) (i32.const 0))`.
	newGlobal = []byte{0x7f, 0x01, 0x41, 0x00, 0x0b}
	// newType is `(func)`, the type of the interrupt import.
	newType = []byte{0x60, 0x00, 0x00}
)

// section locates one section of the input.
type section struct {
	present    bool
	start      int // offset of the id byte
	content    int // offset of the contents
	end        int
	itemsStart int // offset after the vector length, for sections re-encoded
}

type span struct{ start, end int }

// limits are a memory's declared limits.
type limits struct {
	flags    byte
	min, max uint32
}

// module is the state of one Instrument call.
type module struct {
	wasm []byte
	opts Options
	info Info

	sec [14]section

	numTypes      uint32
	numFuncs      int    // declared in the function section
	funcImports   uint32 // imported functions: the interrupt import's index
	globalImports uint32
	memoryImports int
	numGlobals    uint32 // defined
	numExports    int    // kept
	dropExports   []span // exports named InterruptExport, removed
	memories      []limits

	interrupt uint32 // index of the new global
	code      []byte // the instrumented code section's contents
	loops     []int  // scratch: loop body offsets of the current function
	body      []byte // scratch: the current function's instrumented body
	// funcRefs are the offsets of the function indices in the input that
	// are at or above funcImports, so shift by one in the output (the new
	// import comes before every defined function). Those of a function
	// body are dropped once the body is written.
	funcRefs []int
}

func (m *module) decode() error {
	w := m.wasm
	if len(w) < 8 || !bytes.Equal(w[:4], wasmMagic) {
		return errAt(0, "not a WebAssembly binary")
	}
	if bytes.Equal(w[4:8], componentVers) {
		return errAt(4, "WebAssembly components are not supported, only core modules")
	}
	if !bytes.Equal(w[4:8], wasmVersion1) {
		return errAt(4, "unsupported binary version")
	}
	r := &reader{b: w, pos: 8, end: len(w)}
	lastRank := 0
	for r.pos < r.end {
		start := r.pos
		id, _ := r.byte()
		size, err := r.u32()
		if err != nil {
			return err
		}
		if int64(size) > int64(r.remaining()) {
			return errAt(start, "section %d of %d bytes exceeds the remaining %d", id, size, r.remaining())
		}
		s := section{present: true, start: start, content: r.pos, end: r.pos + int(size)}
		sr := &reader{b: w, pos: s.content, end: s.end}
		r.pos = s.end
		if id == secCustom {
			if _, err := sr.name(); err != nil {
				return err
			}
			m.info.StrippedBytes += s.end - s.start
			continue
		}
		if int(id) >= len(sectionRank) {
			return errAt(start, "unknown section id %d", id)
		}
		if sectionRank[id] <= lastRank {
			return errAt(start, "section %d is out of order or repeated", id)
		}
		lastRank = sectionRank[id]
		if err := m.decodeSection(id, sr, &s); err != nil {
			return err
		}
		if sr.pos != sr.end {
			return errAt(sr.pos, "section %d has %d bytes after its contents", id, sr.end-sr.pos)
		}
		m.sec[id] = s
	}
	if !m.sec[secCode].present && m.numFuncs != 0 {
		return errAt(len(w), "%d functions declared but the code section is missing", m.numFuncs)
	}
	if m.opts.MaxMemoryPages != 0 && m.memoryImports > 0 {
		return errAt(m.sec[secImport].start, "imported memories cannot be capped; define the memory in the module")
	}
	m.info.HasMemory = m.memoryImports+len(m.memories) > 0
	if uint64(m.funcImports)+uint64(m.numFuncs)+1 > math.MaxUint32 {
		return errAt(m.sec[secFunction].start, "too many functions")
	}
	if uint64(m.numTypes)+1 > math.MaxUint32 {
		return errAt(m.sec[secType].start, "too many types")
	}
	if uint64(len(m.info.Imports))+1 > math.MaxUint32 {
		return errAt(m.sec[secImport].start, "too many imports")
	}
	return m.interruptIndex()
}

// funcRef reads a function index, checks it against the functions
// declared so far (imports and the function section, which precede every
// use) and records it if it shifts.
func (m *module) funcRef(r *reader) error {
	start := r.pos
	v, err := index(r, uint64(m.funcImports)+uint64(m.numFuncs), "function")
	if err == nil && v >= m.funcImports {
		m.funcRefs = append(m.funcRefs, start)
	}
	return err
}

// globalRef reads a global index and checks it against the globals the
// module declares: an index past them would name the interrupt global in
// the output, and a guest that could write its interrupt flag could clear
// the timer's firings and never be stopped.
func (m *module) globalRef(r *reader) error {
	_, err := index(r, uint64(m.globalImports)+uint64(m.numGlobals), "global")
	return err
}

// index reads an index of the kind what and checks that it is below n.
func index(r *reader, n uint64, what string) (uint32, error) {
	start := r.pos
	v, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(v) >= n {
		return 0, errAt(start, "%s index %d out of range", what, v)
	}
	return v, nil
}

// patch appends w[lo:hi] to dst with every recorded function index in it
// shifted by one.
func (m *module) patch(dst []byte, lo, hi int) []byte {
	w := m.wasm
	for i := sort.SearchInts(m.funcRefs, lo); i < len(m.funcRefs) && m.funcRefs[i] < hi; i++ {
		p := m.funcRefs[i]
		dst = append(dst, w[lo:p]...)
		r := reader{b: w, pos: p, end: hi}
		v, _ := r.u32() // checked by funcRef
		dst = appendU32(dst, v+1)
		lo = r.pos
	}
	return append(dst, w[lo:hi]...)
}

// hasRefs reports whether w[lo:hi] holds a recorded function index.
func (m *module) hasRefs(lo, hi int) bool {
	i := sort.SearchInts(m.funcRefs, lo)
	return i < len(m.funcRefs) && m.funcRefs[i] < hi
}

// interruptIndex sets the index of the new global: after every imported
// and defined one, so that no existing index shifts.
func (m *module) interruptIndex() error {
	idx := uint64(m.globalImports) + uint64(m.numGlobals)
	if idx >= math.MaxUint32 {
		return errAt(m.sec[secGlobal].start, "too many globals")
	}
	m.interrupt = uint32(idx)
	return nil
}

func (m *module) decodeSection(id byte, r *reader, s *section) error {
	switch id {
	case secType:
		return m.decodeTypes(r, s)
	case secImport:
		return m.decodeImports(r, s)
	case secFunction:
		n, err := r.count(1)
		if err != nil {
			return err
		}
		m.numFuncs = n
		for i := 0; i < n; i++ {
			if err := m.typeIndex(r); err != nil {
				return err
			}
		}
	case secTable:
		n, err := r.count(3)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := tableType(r); err != nil {
				return err
			}
		}
	case secMemory:
		n, err := r.count(2)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			start := r.pos
			l, err := memoryLimits(r)
			if err != nil {
				return err
			}
			if c := m.opts.MaxMemoryPages; c != 0 && l.min > c {
				return errAt(start, "memory minimum of %d pages exceeds the cap of %d", l.min, c)
			}
			m.memories = append(m.memories, l)
		}
	case secTag:
		n, err := r.count(2)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := m.tagType(r); err != nil {
				return err
			}
		}
	case secGlobal:
		n, err := r.count(3)
		if err != nil {
			return err
		}
		s.itemsStart = r.pos
		m.numGlobals = uint32(n)
		for i := 0; i < n; i++ {
			if err := globalType(r); err != nil {
				return err
			}
			if err := m.expr(r, false); err != nil {
				return err
			}
		}
	case secExport:
		return m.decodeExports(r, s)
	case secStart:
		return m.funcRef(r)
	case secElement:
		return m.decodeElements(r)
	case secDataCount:
		_, err := r.u32()
		return err
	case secCode:
		return m.decodeCode(r)
	case secData:
		return m.decodeData(r)
	}
	return nil
}

func (m *module) typeIndex(r *reader) error {
	start := r.pos
	i, err := r.u32()
	if err != nil {
		return err
	}
	if i >= m.numTypes {
		return errAt(start, "type index %d out of range", i)
	}
	return nil
}

func (m *module) decodeTypes(r *reader, s *section) error {
	n, err := r.count(3)
	if err != nil {
		return err
	}
	s.itemsStart = r.pos
	m.numTypes = uint32(n)
	for i := 0; i < n; i++ {
		form, err := r.byte()
		if err != nil {
			return err
		}
		if form != 0x60 {
			return errAt(r.pos-1, "unsupported type form 0x%02x (only function types)", form)
		}
		for range 2 { // parameters, results
			k, err := r.count(1)
			if err != nil {
				return err
			}
			for j := 0; j < k; j++ {
				if err := valType(r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (m *module) decodeImports(r *reader, s *section) error {
	n, err := r.count(4)
	if err != nil {
		return err
	}
	s.itemsStart = r.pos
	m.info.Imports = make([]Import, 0, n)
	var globals uint64
	for i := 0; i < n; i++ {
		start := r.pos
		mod, err := r.name()
		if err != nil {
			return err
		}
		if mod == InterruptModule && !m.opts.reservedOK {
			return errAt(start, "imports from the reserved module %q", mod)
		}
		name, err := r.name()
		if err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case KindFunc:
			err = m.typeIndex(r)
			m.funcImports++
		case KindTable:
			err = tableType(r)
		case KindMemory:
			_, err = memoryLimits(r)
			m.memoryImports++
		case KindGlobal:
			err = globalType(r)
			globals++
		case KindTag:
			err = m.tagType(r)
		default:
			return errAt(r.pos-1, "unknown import kind %d", kind)
		}
		if err != nil {
			return err
		}
		m.info.Imports = append(m.info.Imports, Import{Module: mod, Name: name, Kind: kind})
	}
	m.globalImports = uint32(globals) // n < 2^32
	return nil
}

func (m *module) tagType(r *reader) error {
	attr, err := r.byte()
	if err != nil {
		return err
	}
	if attr != 0 {
		return errAt(r.pos-1, "invalid tag attribute %d", attr)
	}
	return m.typeIndex(r)
}

func refType(r *reader) error {
	c, err := r.byte()
	if err != nil {
		return err
	}
	if c != 0x70 && c != 0x6f {
		return errAt(r.pos-1, "unsupported reference type 0x%02x", c)
	}
	return nil
}

func globalType(r *reader) error {
	if err := valType(r); err != nil {
		return err
	}
	mut, err := r.byte()
	if err != nil {
		return err
	}
	if mut > 1 {
		return errAt(r.pos-1, "invalid global mutability %d", mut)
	}
	return nil
}

func tableType(r *reader) error {
	if err := refType(r); err != nil {
		return err
	}
	start := r.pos
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if flags > 1 {
		return errAt(start, "unsupported table limits flags 0x%02x", flags)
	}
	min, err := r.u32()
	if err != nil {
		return err
	}
	if flags == 1 {
		max, err := r.u32()
		if err != nil {
			return err
		}
		if min > max {
			return errAt(start, "table minimum %d exceeds its maximum %d", min, max)
		}
	}
	return nil
}

// memoryLimits decodes a memory type: flags bit 0 says a maximum follows,
// bit 1 marks a shared memory (threads), which must have one. Memory64 and
// custom page sizes are not supported.
func memoryLimits(r *reader) (limits, error) {
	start := r.pos
	flags, err := r.byte()
	if err != nil {
		return limits{}, err
	}
	switch flags {
	case 0, 1, 3:
	case 2:
		return limits{}, errAt(start, "shared memory without a maximum")
	default:
		return limits{}, errAt(start, "unsupported memory limits flags 0x%02x (memory64 or custom page sizes)", flags)
	}
	l := limits{flags: flags, max: maxPages}
	if l.min, err = r.u32(); err != nil {
		return limits{}, err
	}
	if flags&1 != 0 {
		if l.max, err = r.u32(); err != nil {
			return limits{}, err
		}
	}
	if l.min > maxPages || l.max > maxPages {
		return limits{}, errAt(start, "memory limits exceed %d pages", maxPages)
	}
	if l.min > l.max {
		return limits{}, errAt(start, "memory minimum %d exceeds its maximum %d", l.min, l.max)
	}
	return l, nil
}

func (m *module) decodeExports(r *reader, s *section) error {
	n, err := r.count(3)
	if err != nil {
		return err
	}
	s.itemsStart = r.pos
	m.info.Exports = make([]string, 0, n)
	for i := 0; i < n; i++ {
		start := r.pos
		name, err := r.name()
		if err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		if kind > KindTag {
			return errAt(r.pos-1, "unknown export kind %d", kind)
		}
		switch kind {
		case KindFunc:
			err = m.funcRef(r)
		case KindGlobal:
			err = m.globalRef(r)
		default:
			_, err = r.u32()
		}
		if err != nil {
			return err
		}
		if name == InterruptExport {
			m.dropExports = append(m.dropExports, span{start, r.pos})
			continue
		}
		m.info.Exports = append(m.info.Exports, name)
	}
	m.numExports = len(m.info.Exports)
	return nil
}

func (m *module) decodeElements(r *reader) error {
	n, err := r.count(3)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		start := r.pos
		flags, err := r.u32()
		if err != nil {
			return err
		}
		if flags > 7 {
			return errAt(start, "invalid element segment flags %d", flags)
		}
		if flags&3 == 2 { // explicit table index
			if _, err := r.u32(); err != nil {
				return err
			}
		}
		if flags&1 == 0 { // active: offset expression
			if err := m.expr(r, false); err != nil {
				return err
			}
		}
		if flags&3 != 0 { // element kind or reference type
			if flags&4 == 0 {
				kind, err := r.byte()
				if err != nil {
					return err
				}
				if kind != 0 {
					return errAt(r.pos-1, "invalid element kind %d", kind)
				}
			} else if err := refType(r); err != nil {
				return err
			}
		}
		k, err := r.count(1)
		if err != nil {
			return err
		}
		for j := 0; j < k; j++ {
			if flags&4 == 0 {
				err = m.funcRef(r)
			} else {
				err = m.expr(r, false)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *module) decodeData(r *reader) error {
	n, err := r.count(2)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		start := r.pos
		flags, err := r.u32()
		if err != nil {
			return err
		}
		switch flags {
		case 0: // active, memory 0
			err = m.expr(r, false)
		case 1: // passive
		case 2: // active, explicit memory
			if _, err = r.u32(); err == nil {
				err = m.expr(r, false)
			}
		default:
			return errAt(start, "invalid data segment flags %d", flags)
		}
		if err != nil {
			return err
		}
		k, err := r.count(1)
		if err != nil {
			return err
		}
		r.pos += k
	}
	return nil
}

// interruptCheck returns `global.get g; if; call f; end`.
func interruptCheck(g, f uint32) []byte {
	b := appendU32([]byte{0x23}, g)
	b = append(b, 0x04, 0x40, opCall)
	b = appendU32(b, f)
	return append(b, 0x0b)
}

func (m *module) decodeCode(r *reader) error {
	start := r.pos
	n, err := r.count(1)
	if err != nil {
		return err
	}
	if n != m.numFuncs {
		return errAt(start, "%d function bodies for %d declared functions", n, m.numFuncs)
	}
	if err := m.interruptIndex(); err != nil {
		return err
	}
	check := interruptCheck(m.interrupt, m.funcImports)
	m.code = make([]byte, 0, r.remaining()+(n+1)*len(check)+16)
	m.code = appendU32(m.code, uint32(n))
	for i := 0; i < n; i++ {
		sizeAt := r.pos
		size, err := r.u32()
		if err != nil {
			return err
		}
		if int64(size) > int64(r.remaining()) {
			return errAt(sizeAt, "function body %d of %d bytes exceeds the section", i, size)
		}
		body := &reader{b: r.b, pos: r.pos, end: r.pos + int(size)}
		if err := m.locals(body); err != nil {
			return err
		}
		localsEnd := body.pos
		m.loops = m.loops[:0]
		refs := len(m.funcRefs)
		if err := m.expr(body, true); err != nil {
			return err
		}
		if body.pos != body.end {
			return errAt(body.pos, "function body %d continues after its end", i)
		}
		b := append(m.body[:0], r.b[r.pos:localsEnd]...)
		b = append(b, check...)
		last := localsEnd
		for _, p := range m.loops {
			b = m.patch(b, last, p)
			b = append(b, check...)
			last = p
		}
		b = m.patch(b, last, body.end)
		m.body = b
		m.funcRefs = m.funcRefs[:refs] // written
		if err := checkSize(len(b), "function body"); err != nil {
			return err
		}
		m.code = appendU32(m.code, uint32(len(b)))
		m.code = append(m.code, b...)
		r.pos = body.end
	}
	return nil
}

// locals skips a function body's local declarations, whose total must fit
// a u32.
func (m *module) locals(r *reader) error {
	n, err := r.count(2)
	if err != nil {
		return err
	}
	var total uint64
	for i := 0; i < n; i++ {
		start := r.pos
		k, err := r.u32()
		if err != nil {
			return err
		}
		if total += uint64(k); total > math.MaxUint32 {
			return errAt(start, "too many locals")
		}
		if err := valType(r); err != nil {
			return err
		}
	}
	return nil
}

// encode writes the instrumented module.
func (m *module) encode() ([]byte, error) {
	w := m.wasm
	out := make([]byte, 0, len(w)+len(m.code)-(m.sec[secCode].end-m.sec[secCode].content)+64)
	out = append(out, w[:8]...)
	var err error
	for _, id := range sectionOrder {
		s := m.sec[id]
		switch {
		case id == secType:
			out, err = m.appendTypes(out)
		case id == secImport:
			out, err = m.appendImports(out)
		case id == secMemory && s.present && m.opts.MaxMemoryPages != 0:
			out, err = m.appendMemories(out)
		case id == secGlobal:
			out, err = m.appendGlobals(out)
		case id == secExport:
			out, err = m.appendExports(out)
		case id == secCode && s.present:
			out, err = appendSection(out, secCode, m.code)
		case s.present && m.hasRefs(s.content, s.end):
			out, err = appendSection(out, id, m.patch(nil, s.content, s.end))
		case s.present:
			out = append(out, w[s.start:s.end]...)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func appendSection(out []byte, id byte, content []byte) ([]byte, error) {
	if err := checkSize(len(content), "section"); err != nil {
		return nil, err
	}
	out = append(out, id)
	out = appendU32(out, uint32(len(content)))
	return append(out, content...), nil
}

// appendTypes appends the type section with the interrupt import's type,
// `(func)`, last: no type index changes.
func (m *module) appendTypes(out []byte) ([]byte, error) {
	s := m.sec[secType]
	c := appendU32(nil, m.numTypes+1) // < 2^32: checked by decode
	if s.present {
		c = append(c, m.wasm[s.itemsStart:s.end]...)
	}
	c = append(c, newType...)
	return appendSection(out, secType, c)
}

// appendImports appends the import section with the interrupt import
// last: its function index is funcImports.
func (m *module) appendImports(out []byte) ([]byte, error) {
	s := m.sec[secImport]
	c := appendU32(nil, uint32(len(m.info.Imports)+1)) // < 2^32: checked by decode
	if s.present {
		c = append(c, m.wasm[s.itemsStart:s.end]...)
	}
	c = appendU32(c, uint32(len(InterruptModule)))
	c = append(c, InterruptModule...)
	c = appendU32(c, uint32(len(InterruptFunc)))
	c = append(c, InterruptFunc...)
	c = append(c, KindFunc)
	c = appendU32(c, m.numTypes)
	return appendSection(out, secImport, c)
}

func (m *module) appendMemories(out []byte) ([]byte, error) {
	capPages := min(m.opts.MaxMemoryPages, maxPages)
	c := appendU32(nil, uint32(len(m.memories)))
	for _, l := range m.memories {
		c = append(c, l.flags|1)
		c = appendU32(c, l.min)
		c = appendU32(c, min(l.max, capPages))
	}
	return appendSection(out, secMemory, c)
}

func (m *module) appendGlobals(out []byte) ([]byte, error) {
	s := m.sec[secGlobal]
	c := appendU32(nil, m.numGlobals+1) // < 2^32: checked by interruptIndex
	if s.present {
		c = m.patch(c, s.itemsStart, s.end)
	}
	c = append(c, newGlobal...)
	return appendSection(out, secGlobal, c)
}

func (m *module) appendExports(out []byte) ([]byte, error) {
	s := m.sec[secExport]
	if uint64(m.numExports)+1 > math.MaxUint32 {
		return nil, errAt(s.start, "too many exports")
	}
	c := appendU32(nil, uint32(m.numExports+1))
	if s.present {
		last := s.itemsStart
		for _, d := range m.dropExports {
			c = m.patch(c, last, d.start)
			last = d.end
		}
		c = m.patch(c, last, s.end)
	}
	c = appendU32(c, uint32(len(InterruptExport)))
	c = append(c, InterruptExport...)
	c = append(c, KindGlobal)
	c = appendU32(c, m.interrupt)
	return appendSection(out, secExport, c)
}
