// Package jobapi serves the Masumi agent job API (MIP-003, with Masumi's HITL extension) on
// the responder, so a Masumi client drives a hitl workflow as it would a Masumi agent:
//
//	POST /start_job      {"input_data": {...}, "identifier_from_purchaser": "..."} → {"job_id", "status": "running"}
//	GET  /status?job_id= → {"job_id", "status", "input_schema" | "result" | "error", ...}
//	POST /provide_input  {"job_id", "input_data": {...}, "request_id"?} → {"input_hash", "signature"}
//	GET  /availability   → {"status": "available", "type": "masumi-agent"}
//	GET  /input_schema   → {"input_data": [fields of the start input]}
//
// A job is a run of one configured workflow (Config.Workflow, default "approval-gate"); the
// job id is the run id. The run's input is input_data itself, with identifier_from_purchaser
// added as a key when given, so the workflow takes its natural input (the approval gate takes
// {"text": ...}) and may declare identifier_from_purchaser to read it.
//
// # Status
//
// A run that is running, or waiting with no request left unanswered (an answer is being
// applied), is "running"; waiting with a pending request is "awaiting_input"; completed is
// "completed" with "result" (a string: a string result as is, any other as its JSON text);
// failed or cancelled is "failed" with "error". "run_status" keeps hitl's own status.
//
// While awaiting input, "input_schema", "request_id" and "message" describe the first pending
// request (the first asked), and "pending_inputs" lists every pending request (an AskAll asks
// several at once) with its own request_id, title, message and input_schema. POST
// /provide_input answers the first unless "request_id" names another.
//
// # Input types as Masumi fields
//
// Each request's input spec becomes a Masumi field list, and input_data becomes the answer
// the workflow asked for:
//
//	input type    fields in input_schema.input_data                    input_data → answer
//	form          the form's own fields, as declared                    the object itself
//	approval      "approved" (boolean), "comment" (string, optional)    the object itself: {"approved", "comment"}
//	text          "value" (string; validations min/max length)         the value of "value"
//	boolean       "value" (boolean)                                     the value of "value"
//	number        "value" (number; validations min, max, format)       the value of "value"
//	select        "value" (select, with options)                        the value of "value"
//	multiselect   "value" (multiselect, with options; min/max picks)   the value of "value": a list of ids
//	other types   "value" (the type's name)                             the value of "value"
//
// A skippable request's fields are not required; an empty input_data skips it (the answer is
// null). Validation failures name the field as input_data.<id>.
//
// # Hash and signature
//
// input_hash is the store's hash of the answer: the hex SHA-256 of its RFC 8785 canonical
// JSON (for form and approval, of input_data; for the one-value types, of the value), the
// same as the request record's response.input_hash. signature is the hex HMAC-SHA256 of the
// input_hash string, keyed with the responder's link secret (HITL_LINK_SECRET): whoever holds
// the secret can check that this responder accepted that answer.
//
// # Errors and authentication
//
// Errors are the REST API's {"error": {"code", "message", "fields"}} plus a top-level
// "detail" string (what Masumi's servers return), e.g. 400 for a missing or malformed job_id
// or missing input_data, 400 validation_failed for an answer that does not fit, 404 for an
// unknown job, 409 not_awaiting_input or already_resolved. start_job, status and
// provide_input take the API tokens of the REST API (Authorization: Bearer) when tokens are
// configured; availability and input_schema are open, like /healthz.
package jobapi
