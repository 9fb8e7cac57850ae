# Production guard rails, evaluated once per compiled target by `cfgc check`.
# Rego v1 syntax (conftest-compatible): package main, deny/warn sets.
package main

import rego.v1

is_prod if input.vars.env == "prod"

# Every production target needs somewhere to go when its primary model fails.
deny contains {"msg": msg, "path": "routing.fallbacks"} if {
	is_prod
	count(object.get(input.config, ["routing", "fallbacks"], [])) == 0
	msg := "production targets need at least one fallback model"
}

# Sampling temperature above 1 is too random for production traffic.
deny contains {"msg": msg, "path": sprintf("models.%s.temperature", [name])} if {
	is_prod
	some name, model in input.config.models
	model.temperature > 1
	msg := sprintf("models.%s.temperature is %v; production allows at most 1", [name, model.temperature])
}
