package main

import rego.v1

deny contains {"msg": "prod rpm must be at least 100", "path": "limits.rpm"} if {
	input.vars.env == "prod"
	input.config.limits.rpm < 100
}

deny contains "every target needs an owner" if {
	not input.config.owner
}

warn contains sprintf("changed: %v", [input.changed]) if {
	input.changed != null
}

violation contains {"msg": "no secrets in tags", "path": "tags[0]"} if {
	input.config.tags[0]["$secret"]
}
