#!/bin/sh
[ "$1" = --profile ] && [ "$2" = 'my x' ] || { echo "unexpected arguments: $*" >&2; exit 3; }
cat <<'JSON'
{"mode": "StsToken", "access_key_id": "STS.ext", "access_key_secret": "extsecret",
 "sts_token": "exttoken", "expiration": "2030-01-01T02:00:00Z"}
JSON
