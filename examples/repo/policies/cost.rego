# Cost hints: warnings show up in the PR but do not fail the check.
package main

import rego.v1

# Very large completions are expensive; make sure it is intended.
warn contains {"msg": msg, "path": sprintf("models.%s.max_tokens", [name])} if {
	some name, model in input.config.models
	model.max_tokens > 8192
	msg := sprintf("models.%s.max_tokens is %d: completions this long are costly", [name, model.max_tokens])
}

# Only for targets this pull request changes (input.changed is null without --base).
warn contains {"msg": "budget.monthly_usd above 20000: get a FinOps review", "path": "budget.monthly_usd"} if {
	input.changed == true
	input.config.budget.monthly_usd > 20000
}
