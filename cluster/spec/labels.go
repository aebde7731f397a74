package spec

import "errors"

// ValidateLabels checks a label map by the rules of a service's labels
// (how many, how long a key and a value may be), for other objects with
// labels, such as networks; what names the map in errors ("label").
func ValidateLabels(what string, labels map[string]string) error {
	return errors.Join(validateLabels(what, labels)...)
}
