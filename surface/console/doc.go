// Package console is the surface of `hitl dev`: its channel writes each request to a
// terminal, with the command that answers it; the answer itself goes to the REST API
// (package respond).
package console
