package format

import "text/template/parse"

// walkFields adds a header cell for every field a template refers to, such
// as .ID or .Spec.Name, so that even a table with no rows gets its header.
// dot is the cell "." stands for at n: inside {{with .Spec}}, .Name is
// Spec's field. Where "." cannot be known, fields are added at the root.
func walkFields(n parse.Node, dot, root headerCell) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkFields(c, dot, root)
		}
	case *parse.ActionNode:
		walkFields(n.Pipe, dot, root)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walkFields(c, dot, root)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walkFields(a, dot, root)
		}
	case *parse.ChainNode:
		walkFields(n.Node, dot, root)
		fieldCell(n, dot, root)
	case *parse.FieldNode, *parse.VariableNode:
		fieldCell(n, dot, root)
	case *parse.IfNode:
		walkFields(n.Pipe, dot, root)
		walkFields(n.List, dot, root)
		walkFields(n.ElseList, dot, root)
	case *parse.WithNode:
		walkFields(n.Pipe, dot, root)
		inner, ok := fieldCell(n.Pipe, dot, root)
		if !ok {
			inner = root
		}
		walkFields(n.List, inner, root)
		walkFields(n.ElseList, dot, root)
	case *parse.RangeNode:
		walkFields(n.Pipe, dot, root)
		inner := root
		if list, ok := fieldCell(n.Pipe, dot, root); ok {
			inner = list.element()
		}
		walkFields(n.List, inner, root)
		walkFields(n.ElseList, dot, root)
	case *parse.TemplateNode:
		walkFields(n.Pipe, dot, root)
	}
}

// fieldCell returns, creating it if need be, the cell n refers to when n
// is a plain field reference such as ., .Spec.Name, (.Status).State or
// $.ID.
func fieldCell(n parse.Node, dot, root headerCell) (headerCell, bool) {
	switch n := n.(type) {
	case *parse.DotNode:
		return dot, true
	case *parse.FieldNode:
		return dot.path(n.Ident), true
	case *parse.VariableNode:
		if len(n.Ident) > 0 && n.Ident[0] == "$" {
			return root.path(n.Ident[1:]), true
		}
	case *parse.ChainNode:
		if base, ok := fieldCell(n.Node, dot, root); ok {
			return base.path(n.Field), true
		}
		return root.path(n.Field), true
	case *parse.PipeNode:
		if n != nil && len(n.Cmds) == 1 && len(n.Cmds[0].Args) == 1 {
			return fieldCell(n.Cmds[0].Args[0], dot, root)
		}
	}
	return nil, false
}
