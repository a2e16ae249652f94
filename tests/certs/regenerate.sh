#!/usr/bin/env bash
# Regenerates the test CA and the mock's server certificate (both valid for 100 years).
# Run from anywhere: `bash tests/certs/regenerate.sh`. Needs only the openssl command line.
# The keys are for tests on 127.0.0.1 only: they are public, never trust this CA anywhere else.
set -euo pipefail
cd "$(dirname "$0")"
days=36500

# The CA: a self-signed certificate that may sign others.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$days" \
  -subj "/CN=zoom-ws test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" \
  -out ca.pem

# The server: a PKCS#8 key (what native_tls::Identity::from_pkcs8 wants) and a certificate for
# localhost and 127.0.0.1, signed by the CA.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key
openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
cat > server.ext <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 \
  -days "$days" -extfile server.ext -out server.pem
# A second CA that signs nothing here: a ZOOM_CA_FILE that does not vouch for the mock.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other-ca.key
openssl req -x509 -new -key other-ca.key -sha256 -days "$days" \
  -subj "/CN=zoom-ws unrelated test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out other-ca.pem
rm -f other-ca.key

# The CA key is not needed once the server certificate is signed; regenerate both together.
rm -f server.csr server.ext ca.srl ca.key

openssl verify -CAfile ca.pem server.pem
