package spec

// MaxReplicas is the most replicas a service may ask for. Validate
// refuses more, and the orchestrator does not reconcile a stored service
// that asks for more (one stored before the limit, say): it reports the
// service instead of growing without bound.
const MaxReplicas = 100_000
