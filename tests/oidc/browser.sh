#!/bin/sh
# $BROWSER for login tests: runs the login driver on the URL.
exec node "$(dirname "$0")/login-driver.mjs" "$@"
