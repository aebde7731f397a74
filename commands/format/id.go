package format

import "strings"

// shortIDLength is how many characters of an ID tables show, as docker.
const shortIDLength = 12

// TruncateID shortens an ID to its first 12 characters for display, as
// docker's tables do without --no-trunc. As in docker, a digest's
// algorithm prefix goes first: "sha256:0123456789abcdef..." becomes
// "0123456789ab". Shorter IDs are returned whole.
func TruncateID(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > shortIDLength {
		id = id[:shortIDLength]
	}
	return id
}
