package worker

// Option configures a Worker beyond its module, vars and limits.
type Option func(*Worker)

// WithSecrets gives the Worker its site's secrets (decrypted by the
// caller). The guest reads them like vars: pier.get_var finds a secret
// first, then a var of the same name, and WAGI guests find them in their
// environment (over vars of the same name; the CGI meta-variables still
// win). http-wasm's get_config keeps returning the vars only. The Worker
// never logs them, and never shows them in a Result or an error.
func WithSecrets(secrets map[string]string) Option {
	return func(w *Worker) { w.secrets = secrets }
}

// lookupVar finds name among the secrets, then the vars.
func (w *Worker) lookupVar(name string) (string, bool) {
	if v, ok := w.secrets[name]; ok {
		return v, true
	}
	v, ok := w.vars[name]
	return v, ok
}
