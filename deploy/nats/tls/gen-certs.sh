#!/bin/sh
# Makes the certificates deploy/nats/cluster-n*.conf expect in /etc/nats/tls/: a CA, one
# certificate per node (server certificate for clients and routes, and client certificate
# for the routes it dials), and a client certificate per role for optional mTLS.
#
#   sh deploy/nats/tls/gen-certs.sh            # writes into ./nats-tls
#   OUT=/etc/nats/tls NODES="n1 n2 n3" SANS_n1="DNS:n1.internal,IP:10.0.0.11" sh deploy/nats/tls/gen-certs.sh
#
# Environment (defaults in brackets):
#   OUT       output directory [./nats-tls]
#   NODES     node names, one certificate each, <node>.pem and <node>-key.pem [n1 n2 n3]
#   SANS_<n>  subjectAltName of node <n> (- and . in the name become _), in openssl's form
#             [DNS:<n>,DNS:localhost,IP:127.0.0.1]; it must hold every name and address
#             clients and other nodes dial it by
#   ROLES     client certificates, <role>.pem and <role>-key.pem [orchestrator notifier responder dashboard admin]
#   DAYS      validity of node and client certificates [825]
#   CA_DAYS   validity of the CA [3650]
#
# An existing ca.pem and ca-key.pem in OUT are reused, so nodes and roles can be added or
# renewed later under the same CA; every other certificate is made anew. Keep ca-key.pem off
# the nodes: they need ca.pem, their own certificate and key only.
set -eu

OUT=${OUT:-./nats-tls}
NODES=${NODES:-n1 n2 n3}
ROLES=${ROLES:-orchestrator notifier responder dashboard admin}
DAYS=${DAYS:-825}
CA_DAYS=${CA_DAYS:-3650}

for n in $NODES $ROLES; do
	case $n in *[!A-Za-z0-9_.-]* | [.-]*) echo "gen-certs.sh: name $n: use letters, digits, _, . and - only" >&2; exit 1 ;; esac
done
command -v openssl >/dev/null 2>&1 || { echo "gen-certs.sh: openssl is not installed" >&2; exit 1; }
mkdir -p "$OUT"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [ -f "$OUT/ca.pem" ] && [ -f "$OUT/ca-key.pem" ]; then
	echo "reusing CA $OUT/ca.pem"
else
	newkey "$OUT/ca-key.pem"
	cat >"$tmp/ca.ext" <<EXT
[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
EXT
	openssl req -x509 -new -key "$OUT/ca-key.pem" -subj "/CN=hitl NATS CA" -days "$CA_DAYS" \
		-config "$tmp/ca.ext" -extensions v3_ca -out "$OUT/ca.pem"
	echo "made CA $OUT/ca.pem"
fi

# issue NAME SUBJECT_ALT_NAME EXTENDED_KEY_USAGE
issue() {
	newkey "$OUT/$1-key.pem"
	openssl req -new -key "$OUT/$1-key.pem" -subj "/CN=$1" -out "$tmp/$1.csr"
	{
		echo "basicConstraints = critical,CA:FALSE"
		echo "keyUsage = critical,digitalSignature"
		echo "extendedKeyUsage = $3"
		echo "authorityKeyIdentifier = keyid"
		if [ -n "$2" ]; then echo "subjectAltName = $2"; fi
	} >"$tmp/$1.ext"
	openssl x509 -req -in "$tmp/$1.csr" -CA "$OUT/ca.pem" -CAkey "$OUT/ca-key.pem" \
		-set_serial "0x$(openssl rand -hex 16)" -days "$DAYS" -extfile "$tmp/$1.ext" -out "$OUT/$1.pem" 2>/dev/null
	chmod 644 "$OUT/$1.pem"
	echo "made $OUT/$1.pem${2:+ ($2)}"
}

for n in $NODES; do
	eval "sans=\${SANS_$(echo "$n" | tr -- '-.' '__'):-DNS:$n,DNS:localhost,IP:127.0.0.1}"
	issue "$n" "$sans" "serverAuth,clientAuth"
done
for r in $ROLES; do
	issue "$r" "" "clientAuth"
done
chmod 644 "$OUT/ca.pem"
