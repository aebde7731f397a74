package spec

import "time"

// Limits on a service spec. Each bounds the work or the memory one
// accepted spec can cost a manager (the tasks it makes, the state it
// stores and replicates to every manager, the containers' configuration),
// so that no spec the API accepts can exhaust a manager. Validate refuses
// a spec over any of them with an error that names the field, the value
// and the limit. README.md lists them under "Limits".
const (
	// MaxReplicas is the most tasks a replicated service may ask for. The
	// orchestrator also leaves a stored service that asks for more alone
	// (one stored before the limit) and reports it.
	MaxReplicas = 100_000

	// MaxSpecBytes is the largest a service spec may be, JSON-encoded in
	// the API's layout (what `service inspect` prints under Spec).
	MaxSpecBytes = 512 << 10

	// MaxTasksBytes bounds replicas times the spec's encoded size: every
	// task carries its own copy of the container spec in the replicated
	// state, so a large spec gets fewer replicas (a 2 KiB spec: all
	// 100,000; a 512 KiB one: 512).
	MaxTasksBytes = 256 << 20

	// MaxImageLen is the longest an image reference may be, in bytes
	// (registry, repository, tag and digest together; the repository name
	// alone is limited to 255 by the reference grammar).
	MaxImageLen = 512

	// MaxArgs is the most entries the container's command may have, and
	// separately its arguments, and the health check's test.
	MaxArgs = 1024
	// MaxArgLen is the longest one command, argument or health check test
	// entry may be, in bytes.
	MaxArgLen = 32 << 10

	// MaxEnv is the most environment entries a container may have.
	MaxEnv = 1024
	// MaxEnvLen is the longest one environment entry (KEY=VALUE) may be,
	// in bytes.
	MaxEnvLen = 32 << 10

	// MaxLabels is the most labels a service may have, and separately its
	// containers.
	MaxLabels = 256
	// MaxLabelKeyLen is the longest a label's key may be, in bytes.
	MaxLabelKeyLen = 256
	// MaxLabelValueLen is the longest a label's value may be, in bytes.
	MaxLabelValueLen = 4 << 10

	// MaxPorts is the most published ports a service may have.
	MaxPorts = 1024

	// MaxConstraints is the most placement constraints a service may have.
	MaxConstraints = 64
	// MaxConstraintLen is the longest one placement constraint may be, in
	// bytes.
	MaxConstraintLen = 512

	// MaxShortLen is the longest any other free-form string of a spec may
	// be (the endpoint mode, the virtual IP), in bytes.
	MaxShortLen = 256

	// MinHealthDuration is the shortest health check interval, timeout or
	// start period, as the engine's; 0 (inherit the image's, or the
	// engine's default) is allowed too.
	MinHealthDuration = time.Millisecond
	// MaxHealthDuration is the longest health check interval, timeout or
	// start period.
	MaxHealthDuration = 24 * time.Hour
	// MaxHealthRetries is the most consecutive failures a health check may
	// wait for before the container is unhealthy.
	MaxHealthRetries = 1000

	// MaxRestartDelay is the longest delay between a task's stop and its
	// replacement's start.
	MaxRestartDelay = 24 * time.Hour
	// MaxUpdateWait is the longest update or rollback delay and monitor.
	MaxUpdateWait = 24 * time.Hour
	// MaxRestartAttempts is the largest restart max-attempts (0 stays
	// "no limit").
	MaxRestartAttempts = 1_000_000

	// MaxStopGracePeriod is the longest a container is given to stop
	// before it is killed.
	MaxStopGracePeriod = 24 * time.Hour
)

// maxReported is how many problems of one list (env, labels, …) an error
// spells out; the rest are counted.
const maxReported = 5
