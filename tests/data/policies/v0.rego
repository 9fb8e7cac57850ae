package main

# An old conftest policy in Rego v0 syntax.
deny[msg] {
  input.vars.env == "prod"
  msg := "v0 rule"
}
