#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# mkcerts.sh DIR: a throwaway CA and a server certificate for 127.0.0.1
# and localhost (both in the subjectAltName: Go's TLS stack, kubectl's,
# ignores the CN), for apiserver.py:
#   DIR/ca.crt DIR/ca.key           the CA (kubeconfig certificate-authority)
#   DIR/server.crt DIR/server.key   apiserver.py --cert/--key
# P-256 keys: made in milliseconds. Valid for two days from now (the server
# and its clients share this machine's clock).
set -euo pipefail
dir=${1:?usage: mkcerts.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077

openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl ecparam -name prime256v1 -genkey -noout -out server.key
openssl req -x509 -new -key ca.key -subj "/CN=zerohop-test-ca" -days 2 \
	-addext 'basicConstraints=critical,CA:TRUE' \
	-addext 'keyUsage=critical,keyCertSign,cRLSign' -out ca.crt
openssl req -new -key server.key -subj "/CN=zerohop-test-apiserver" -out server.csr
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -days 2 \
	-set_serial "0x$(openssl rand -hex 8)" \
	-extfile <(printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
		'keyUsage=critical,digitalSignature' \
		'extendedKeyUsage=serverAuth' \
		'subjectAltName=IP:127.0.0.1,DNS:localhost' \
		'authorityKeyIdentifier=keyid') \
	-out server.crt 2>x509.err || {
	cat x509.err >&2
	exit 1
}
rm -f server.csr x509.err
chmod 0644 ca.crt server.crt
