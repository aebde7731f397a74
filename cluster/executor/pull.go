package executor

import (
	"encoding/json"
	"errors"
	"io"
)

// pullResult drains a pull's JSON progress stream and returns the error it
// ends with, if any.
func pullResult(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
}
