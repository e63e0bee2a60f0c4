#!/bin/sh
# ame-doctor in-task probe: POSIX sh entry point. Runs the php probe when php is present
# (AME_PROBE_PHP = base64 of raw-deflated probe.php); else falls back to bash /dev/tcp, then nc.
# One "AMEPROBE {json}" line per target; secrets leave only as keyed HMAC fingerprints.
LC_ALL=C; export LC_ALL
if [ -n "$AME_PROBE_PHP" ] && command -v php >/dev/null 2>&1; then
  php -d display_errors=0 -r "eval(gzinflate(base64_decode(getenv(\"AME_PROBE_PHP\"))));" && exit 0
fi
T=${AME_PROBE_TIMEOUT:-3}; T=${T%.*}; [ "$T" -ge 1 ] 2>/dev/null || T=1
R=${AME_PROBE_ROOT:-$(pwd)}
if command -v bash >/dev/null 2>&1; then RT=bash; elif command -v nc >/dev/null 2>&1; then RT=nc; else RT=none; fi
TO=""; command -v timeout >/dev/null 2>&1 && TO="timeout $T"
out() { printf "AMEPROBE {%s}\n" "$1"; }
esc() { printf %s "$1" | tr -d "\"\\\\\n\r" | cut -c1-200; }
res() {
  for p in $(printf %s "$AME_PROBE_RESOLVE" | tr "," " "); do
    if [ "${p%%=*}" = "$1" ]; then echo "${p#*=}"; return; fi
  done
  case $1 in *[!0-9.]*) ;; *) echo "$1"; return ;; esac
  command -v getent >/dev/null 2>&1 || return
  { getent ahostsv4 "$1" || getent hosts "$1"; } 2>/dev/null | awk "{print \$1}" | uniq | tr "\n" " "
}
talk() {
  if [ $RT = bash ]; then
    $TO bash -s "$@" 2>&1 <<"EOS"
exec 3<>"/dev/tcp/$2/$3" || exit 7
echo "TCP ok"
if [ "$1" = redis ]; then
  if [ -n "$REDIS_PASSWORD" ] && [ "$REDIS_PASSWORD" != null ]; then
    printf "*2\r\n\$4\r\nAUTH\r\n\$%d\r\n%s\r\n" "${#REDIS_PASSWORD}" "$REDIS_PASSWORD" >&3
    read -r -t 3 a <&3; echo "AUTH $a"
  fi
  printf "PING\r\n" >&3; read -r -t 3 a <&3; echo "PING $a"
  case $a in +PONG*) printf "ROLE\r\n" >&3; read -r -t 1 a <&3; read -r -t 1 a <&3; read -r -t 1 a <&3; echo "ROLE $a" ;; esac
else
  echo "GREET $(head -c 64 <&3 | od -An -tu1 -v | tr -s " \n" "  ")"
fi
EOS
  elif [ $RT = nc ]; then
    if [ "$1" = redis ]; then
      { [ -n "$REDIS_PASSWORD" ] && [ "$REDIS_PASSWORD" != null ] && printf "AUTH %s\r\n" "$REDIS_PASSWORD"; printf "PING\r\nROLE\r\n"; sleep 1; } \
        | nc -w "$T" "$2" "$3" 2>&1 | awk -v a="$REDIS_PASSWORD" "BEGIN{print \"TCP ok\"} NR==1&&a!=\"\"&&a!=\"null\"{print \"AUTH \" \$0;next} !p{print \"PING \" \$0;p=1;next} /^(master|slave)/{print \"ROLE \" \$0}"
    else
      nc -z -w "$T" "$2" "$3" 2>&1 && echo "TCP ok"
    fi
  else
    echo "NORUNTIME"
  fi
}
probe() {
  h=$2; p=$3; case $p in ""|*[!0-9]*) p=0 ;; esac
  if [ -z "$h" ]; then out "\"t\":\"$1\",\"tcp\":\"unset\",\"rt\":\"$RT\""; return; fi
  A=$(res "$h"); ip=${A%% *}
  J="\"t\":\"$1\",\"host\":\"$(esc "$h")\",\"port\":$p,\"rt\":\"$RT\",\"addrs\":[$(for a in $A; do printf "\"%s\"," "$a"; done | sed "s/,\$//")]"
  if [ -z "$ip" ]; then out "$J,\"tcp\":\"dns\""; return; fi
  O=$(talk "$1" "$ip" "$p"; echo "RC $?"); O=$(printf %s "$O" | tr -d "\r")
  rc=$(printf %s "$O" | sed -n "s/^RC //p")
  if printf %s "$O" | grep -q "^TCP ok"; then J="$J,\"tcp\":\"ok\""
  elif [ "$rc" = 124 ]; then J="$J,\"tcp\":\"timeout\""
  elif printf %s "$O" | grep -qi "refused"; then J="$J,\"tcp\":\"refused\""
  elif printf %s "$O" | grep -qi "unreachable\|no route"; then J="$J,\"tcp\":\"unreachable\""
  elif printf %s "$O" | grep -qi "timed out"; then J="$J,\"tcp\":\"timeout\""
  elif [ "$RT" = none ]; then J="$J,\"tcp\":\"untested\""
  else J="$J,\"tcp\":\"error\",\"error\":\"$(esc "$(printf %s "$O" | head -n 1)")\""; fi
  if [ "$1" = redis ]; then
    a=$(printf %s "$O" | sed -n "s/^AUTH //p"); g=$(printf %s "$O" | sed -n "s/^PING //p"); r=$(printf %s "$O" | sed -n "s/^ROLE //p")
    case $a in "") s=none ;; +OK*) s=ok ;; *without\ any\ password*|*no\ password\ is\ set*) s=not_required ;; *WRONGPASS*|*invalid\ password*) s=failed ;; *) s=error ;; esac
    [ -n "$REDIS_PASSWORD" ] && [ "$REDIS_PASSWORD" != null ] || s=none
    case $g in +PONG*) g=PONG ;; -*) g=$(printf %s "$g" | sed "s/^-//; s/ .*//") ;; "") g=TIMEOUT ;; *) g=OTHER ;; esac
    [ $s = failed ] && [ $g != PONG ] && g=WRONGPASS
    printf %s "$O" | grep -q "^TCP ok" && J="$J,\"auth\":\"$s\",\"reply\":\"$(esc "$g")\""
    [ -n "$r" ] && J="$J,\"role\":\"$(esc "$r")\""
  else
    b=$(printf %s "$O" | sed -n "s/^GREET //p")
    if [ -n "$b" ]; then
      J="$J,$(echo "$b" | awk "{ if (NF<6) { printf \"\\\"greeting\\\":\\\"none\\\"\"; exit } if (\$5==255) { printf \"\\\"greeting\\\":\\\"error\\\"\"; exit } v=\"\"; for(i=6;i<=NF&&\$i!=0;i++) v=v sprintf(\"%c\", \$i); gsub(/[\"\\\\]/, \"\", v); printf \"\\\"greeting\\\":\\\"ok\\\",\\\"protocol\\\":%d,\\\"version\\\":\\\"%s\\\"\", \$5, v }")"
    elif printf %s "$O" | grep -q "^TCP ok"; then J="$J,\"greeting\":\"none\""; fi
  fi
  out "$J"
}
fp() { if [ -n "$AME_PROBE_KEY" ] && command -v openssl >/dev/null 2>&1; then printf "\"hmac:%s\"" "$(printf %s "$1" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$AME_PROBE_KEY" | awk "{print \$NF}" | cut -c1-16)"; else printf null; fi; }
fpv() { eval "s=\${$1+x}"; if [ -n "$s" ]; then eval "fp \"\$$1\""; else printf null; fi; }
out "\"t\":\"start\",\"rt\":\"$RT\",\"root\":\"$(esc "$R")\""
probe redis "$REDIS_HOST" "${REDIS_PORT:-6379}"
probe mysql "$DB_HOST" "${DB_PORT:-3306}"
D=""
for d in storage/framework/cache storage/framework/sessions storage/framework/views storage/logs bootstrap/cache; do
  if [ ! -d "$R/$d" ]; then s=missing; elif [ -w "$R/$d" ]; then s=ok; else s=unwritable; fi
  D="$D\"$d\":\"$s\","
done
out "\"t\":\"dirs\",\"root\":\"$(esc "$R")\",\"dirs\":{${D%,}}"
C=false; [ -f "$R/bootstrap/cache/config.php" ] && C=true
P=${REDIS_PREFIX-$(printf %s "${APP_NAME:-laravel}" | tr "A-Z" "a-z" | sed -e "s/-\{1,\}/_/g" -e "s/@/_at_/g" -e "s/[^_a-z0-9[:space:]]//g" -e "s/[_[:space:]]\{1,\}/_/g" -e "s/^_*//" -e "s/_*\$//")_database_}
N=${REDIS_DB:-0}; case $N in *[!0-9]*) N=0 ;; esac
out "\"t\":\"env\",\"config_cache\":$C,\"source\":\"env\",\"redis_prefix\":\"$(esc "$P")\",\"redis_db\":$N,\"fp\":{\"DB_HOST\":$(fpv DB_HOST),\"REDIS_HOST\":$(fpv REDIS_HOST),\"APP_KEY\":$(fpv APP_KEY),\"DB_PASSWORD\":$(fpv DB_PASSWORD)}"
out "\"t\":\"end\",\"rt\":\"$RT\""
