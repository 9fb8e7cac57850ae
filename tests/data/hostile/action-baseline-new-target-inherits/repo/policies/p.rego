package main

deny contains {"msg": "rpm below 100", "path": "limits.rpm"} if input.config.limits.rpm < 100
