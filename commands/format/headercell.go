package format

// headerCell is what a name evaluates to while a table's header renders.
// It prints as its column header ("MANAGER STATUS"), and its fields are
// cells too, so that {{.Spec.Name}} is headed "NAME" instead of breaking
// the header line as it does in docker.
//
// The label is kept under the key "", which no template field can name.
// For a field the template ranges over, that entry is instead a cell
// standing for the list's elements, so {{range .Ports}} runs its body once
// in the header, with "." being that element cell.
type headerCell map[string]any

// String returns the cell's header.
func (c headerCell) String() string {
	switch l := c[""].(type) {
	case string:
		return l
	case headerCell:
		return l.String()
	}
	return ""
}

// setLabel sets the cell's header.
func (c headerCell) setLabel(s string) {
	if e, ok := c[""].(headerCell); ok {
		e.setLabel(s)
		return
	}
	c[""] = s
}

// child returns the cell for field name, creating it with the derived
// header.
func (c headerCell) child(name string) headerCell {
	if cc, ok := c[name].(headerCell); ok {
		return cc
	}
	cc := headerCell{"": headerName(name)}
	c[name] = cc
	return cc
}

// path returns the cell for a field path such as Spec, Name.
func (c headerCell) path(names []string) headerCell {
	for _, n := range names {
		c = c.child(n)
	}
	return c
}

// element returns the cell standing for the elements of c when a template
// ranges over it; it carries c's header.
func (c headerCell) element() headerCell {
	if e, ok := c[""].(headerCell); ok {
		return e
	}
	e := headerCell{"": c.String()}
	c[""] = e
	return e
}
