package assets

// Entry describes one file of a deployment.
type Entry struct {
	Hash        string `json:"hash"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type,omitempty"`
	// Sizes of the pre-compressed variants computed at deploy; zero means
	// the variant does not exist (not text, or compression did not pay).
	BrSize int64 `json:"br_size,omitempty"`
	GzSize int64 `json:"gz_size,omitempty"`
}

// Manifest maps a clean absolute path ("/a/b.html") to its file.
type Manifest map[string]Entry

// The rules files: at the root of a published directory they configure
// the deployment (response headers, redirects) instead of being served, as
// on Netlify and Cloudflare Pages. The server reads them at deploy and
// drops them from the stored manifest.
const (
	HeadersFile   = "/_headers"
	RedirectsFile = "/_redirects"
)

// IsRulesFile reports whether the manifest path p is a rules file.
func IsRulesFile(p string) bool { return p == HeadersFile || p == RedirectsFile }

// Files returns the number of files of a deployment with manifest m: the
// files it publishes, i.e. its entries other than the rules files. A
// worker is not a file (it is not in the manifest). This is the one
// definition of a deployment's file count: the deploy's output, the
// API's "files" and `pier deployments list` all use it. A stored
// deployment's manifest holds no rules files, so for it Files is len(m).
func (m Manifest) Files() int {
	n := len(m)
	for p := range m {
		if IsRulesFile(p) {
			n--
		}
	}
	return n
}

// Bytes returns the total size of the files that Files counts.
func (m Manifest) Bytes() int64 {
	var n int64
	for p, e := range m {
		if !IsRulesFile(p) {
			n += e.Size
		}
	}
	return n
}
