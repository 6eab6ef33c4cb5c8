package pier

// Secret returns the site's secret name (set with `pier secrets put NAME
// --site S`, kept encrypted by the platform) and whether it is set.
// Secrets reach the worker through the same import as vars, and a secret
// hides a var of the same name, so Secret and Var return the same value:
// Secret only says that the code expects a secret. Outside the Pier host
// no secret is set.
func Secret(name string) (string, bool) { return Var(name) }
