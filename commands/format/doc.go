// Package format renders the output of the list and inspect commands and
// parses their --filter flags, following the docker CLI's scripting
// conventions: "table" templates with upper-case headers aligned by
// text/tabwriter, "json" for one compact object per line, any other Go
// template executed once per row, -q for IDs only, and repeated
// key=value filters.
//
// Everything here is shared by all commands, so that operators' shell
// scripts and Ansible playbooks written against docker keep working.
package format
