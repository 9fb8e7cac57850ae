package main

deny contains {"msg": "rpm below 100", "path": "limits.rpm"} if input.config.limits.rpm < 100

deny contains {"msg": "timeout above 60s", "path": "timeout_s"} if input.config.timeout_s > 60
