package worker

import (
	"encoding/json"
	"maps"
)

// RequestVars is an optional interface of a Host: variables of one
// request, which pier.get_var and http_handler.get_config show the guest
// over the Worker's own (a name in both: the request's value wins). The
// edge's outbound worker gets the tenant, site and URL of each subrequest
// this way. Called from the goroutine running the guest.
type RequestVars interface {
	RequestVars() map[string]string
}

// requestVars returns the request's own variables, nil when its Host has
// none.
func (c *call) requestVars() map[string]string {
	if rv, ok := c.host.(RequestVars); ok {
		return rv.RequestVars()
	}
	return nil
}

// getVar looks name up in the request's variables, then the Worker's
// secrets and variables (lookupVar).
func (c *call) getVar(name string) (string, bool) {
	if v, ok := c.requestVars()[name]; ok {
		return v, true
	}
	return c.w.lookupVar(name)
}

// configJSON is get_config's answer: the Worker's variables as a JSON
// object, with the request's own over them.
func (c *call) configJSON() string {
	rv := c.requestVars()
	if len(rv) == 0 {
		return c.w.config
	}
	all := make(map[string]string, len(c.w.vars)+len(rv))
	maps.Copy(all, c.w.vars)
	maps.Copy(all, rv)
	b, err := json.Marshal(all)
	if err != nil {
		return c.w.config
	}
	return string(b)
}
