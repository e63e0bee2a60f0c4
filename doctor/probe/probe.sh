#!/bin/sh
# ame-doctor in-task probe: POSIX sh entry point. Finds the app root and the worker's user, judges the
# runtime directories as that user, then runs the php probe (embedded below) when php is present (two at
# once: Redis, and MySQL, so a dead path costs one timeout, not one per endpoint); else
# talks to Redis (RESP arrays) and MySQL (greeting) through bash /dev/tcp, then nc. One "AMEPROBE {json}"
# line per target. Without php there are no fingerprints (the key exchange needs php's openssl).
LC_ALL=C; export LC_ALL
T=${AME_PROBE_TIMEOUT:-3}; T=${T%.*}; [ "$T" -ge 1 ] 2>/dev/null || T=1
out() { printf "AMEPROBE {%s}\n" "$1"; }
esc() { printf %s "$1" | tr -d "\"\\\\\n\r" | cut -c1-200; }
# --- the app root: given (config / task definition workingDirectory), else the first usual Laravel root
# with artisan, else the session's cwd only if it has artisan: an ECS Exec session may start anywhere
R=$AME_PROBE_ROOT; RS=${AME_PROBE_ROOT_SRC:-given}
if [ -z "$R" ]; then
  RS=none
  for c in /var/www/html /var/www /app /srv/app /opt/app /var/app /usr/src/app /home/app "$(pwd)"; do
    if [ -f "$c/artisan" ]; then R=$c; RS=artisan; break; fi
  done
fi
# --- who the worker runs as ("uid gid groups..."): AME_PROBE_USER = the container's user (name|uid[:gid];
# an unknown uid runs with gid 0, as in Docker) or "self"; else the owner of the worker process (artisan
# queue:work|queue:listen|horizon), else of PID 1
ids() { awk "/^Uid:/{u=\$3} /^Gid:/{g=\$3} /^Groups:/{\$1=\"\"; s=\$0} END{print u, g, s}" "$1/status" 2>/dev/null; }
U=$AME_PROBE_USER; W=""; WS=container
case $U in
  self) W="$(id -u) $(id -g) $(id -G)"; WS=self ;;
  ?*) u=${U%%:*}; g=${U#"$u"}; g=${g#:}
      if id -u "$u" >/dev/null 2>&1; then W="$(id -u "$u") $(id -g "$u") $(id -G "$u")"
      else case $u in *[!0-9]*) ;; *) W="$u 0" ;; esac; fi
      case $g in *[!0-9]*) g=$(awk -F: -v g="$g" "\$1==g{print \$3}" /etc/group) ;; esac
      [ -n "$g" ] && [ -n "$W" ] && W="${W%% *} $g $g" ;;
  *) for p in /proc/[0-9]*; do
       case $(tr "\0" " " <"$p/cmdline" 2>/dev/null) in *artisan\ queue:work*|*artisan\ queue:listen*|*artisan\ horizon*) W=$(ids "$p"); WS=worker; break ;; esac
     done
     [ -z "$W" ] && W=$(ids /proc/1) && WS=pid1 ;;
esac
# --- the runtime directories, judged as that user: access(2) when the probe runs as them, else by
# owner/group/mode bits (w and x; root passes); a read-only mount fails for everyone
set -- $W; WU=$1; WG=$2; [ $# -ge 2 ] && shift 2; WGS=" $WG $* "
[ "$WS" != self ] && [ "$WU" = "$(id -u)" ] && WS=$WS,self
D=""; M=""
for d in storage/framework/cache storage/framework/sessions storage/framework/views storage/logs bootstrap/cache; do
  f=$R/$d; s=unwritable
  if [ -z "$R" ] || [ -z "$WU" ]; then s=unknown
  elif [ ! -d "$f" ]; then s=missing
  else
    set -- $(stat -c "%u %g %a" "$f"); m=$((0$3)); M="$M\"$d\":\"$1:$2:$3\","
    case $WS in *self) [ -w "$f" ] && s=ok ;;
      *) if [ "$WU" = 0 ]; then s=ok; elif [ "$1" = "$WU" ]; then m=$((m >> 6)); else case $WGS in *" $2 "*) m=$((m >> 3)) ;; esac; fi
         [ $((m & 3)) = 3 ] && s=ok ;;
    esac
    case $(awk -v f="$(cd "$f" && pwd -P)/" "index(f, \$2 (\$2==\"/\" ? \"\" : \"/\"))==1 && length(\$2)>=l {l=length(\$2); o=\$4} END{print \",\" o \",\"}" /proc/mounts 2>/dev/null) in
      *,ro,*) s=unwritable; M="$M\"$d:mount\":\"ro\"," ;; esac
  fi
  D="$D\"$d\":\"$s\","
done
out "\"t\":\"dirs\",\"root\":\"$(esc "$R")\",\"root_source\":\"$RS\",\"as\":{\"uid\":\"$WU\",\"gid\":\"$WG\",\"source\":\"$WS\"},\"dirs\":{${D%,}},\"modes\":{${M%,}}"
export AME_PROBE_ROOT="$R"
if command -v php >/dev/null 2>&1; then
  P=$(cat <<"EOP"
@PHP@
EOP
)
  printf %s "$P" | php -d display_errors=0 -- mysql & printf %s "$P" | php -d display_errors=0 && wait && exit 0
  wait
fi
# --- no php. The full probe talks to Redis and MySQL itself (bash /dev/tcp, else nc); a command over its
# size budget (RunTask overrides: 8192 characters) carries the short form instead, which only says so.
#>full
if command -v bash >/dev/null 2>&1; then RT=bash; elif command -v nc >/dev/null 2>&1; then RT=nc; else RT=none; fi
TO=""; command -v timeout >/dev/null 2>&1 && TO="timeout $T"
res() {
  for p in $(printf %s "$AME_PROBE_RESOLVE" | tr "," " "); do
    if [ "${p%%=*}" = "$1" ]; then echo "${p#*=}"; return; fi
  done
  case $1 in *[!0-9.]*) ;; *) echo "$1"; return ;; esac
  command -v getent >/dev/null 2>&1 || return
  { getent ahostsv4 "$1" || getent hosts "$1"; } 2>/dev/null | awk "{print \$1}" | uniq | tr "\n" " "
}
# a Redis command as a RESP array (*N, then $len/arg per argument): what every server and proxy accepts
resp() { printf "*%d\r\n" $#; for a; do printf "\$%d\r\n%s\r\n" ${#a} "$a"; done; }
auth() { if [ -n "$REDIS_PASSWORD" ] && [ "$REDIS_PASSWORD" != null ]; then
  if [ -n "$REDIS_USERNAME" ]; then resp AUTH "$REDIS_USERNAME" "$REDIS_PASSWORD"; else resp AUTH "$REDIS_PASSWORD"; fi; fi; }
talk() {
  if [ $RT = bash ]; then
    $TO bash -s "$@" 2>&1 <<"EOS"
resp() { printf "*%d\r\n" $#; for a; do printf "\$%d\r\n%s\r\n" ${#a} "$a"; done; }
exec 3<>"/dev/tcp/$2/$3" || exit 7
echo "TCP ok"
if [ "$1" = redis ]; then
  if [ -n "$REDIS_PASSWORD" ] && [ "$REDIS_PASSWORD" != null ]; then
    if [ -n "$REDIS_USERNAME" ]; then resp AUTH "$REDIS_USERNAME" "$REDIS_PASSWORD"; else resp AUTH "$REDIS_PASSWORD"; fi >&3
    read -r -t 3 a <&3; echo "AUTH $a"
  fi
  resp PING >&3; read -r -t 3 a <&3; echo "PING $a"
  case $a in +PONG*) resp ROLE >&3; read -r -t 1 a <&3
    case $a in \**) read -r -t 1 a <&3; read -r -t 1 a <&3; echo "ROLE $a" ;; esac ;; esac
else
  echo "GREET $(head -c 64 <&3 | od -An -tu1 -v | tr -s " \n" "  ")"
fi
EOS
  elif [ $RT = nc ]; then
    if [ "$1" = redis ]; then
      { auth; resp PING; resp ROLE; sleep 1; } \
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
    case $a in "") s=none ;; +OK*) s=ok ;; *without\ any\ password*|*no\ password\ is\ set*) s=not_required ;; *WRONGPASS*|*invalid\ password*|*invalid\ username*) s=failed ;; *) s=error ;; esac
    [ -n "$REDIS_PASSWORD" ] && [ "$REDIS_PASSWORD" != null ] || s=none
    case $g in +PONG*) g=PONG ;; -*) g=$(printf %s "$g" | sed "s/^-//; s/ .*//") ;; "") g=TIMEOUT ;; *) g=OTHER ;; esac
    [ $s = failed ] && [ $g != PONG ] && g=WRONGPASS
    printf %s "$O" | grep -q "^TCP ok" && J="$J,\"auth\":\"$s\",\"reply\":\"$(esc "$g")\""
    [ -n "$r" ] && J="$J,\"role\":\"$(esc "$r")\""
  else
    b=$(printf %s "$O" | sed -n "s/^GREET //p")
    if [ -n "$b" ]; then
      J="$J,$(echo "$b" | awk "{ if (NF<6) { printf \"\\\"greeting\\\":\\\"none\\\"\"; exit } if (\$5==255) { printf \"\\\"greeting\\\":\\\"error\\\"\"; exit } v=\"\"; for(i=6;i<=NF&&\$i!=0;i++) v=v sprintf(\"%c\", \$i); gsub(/[\"\\\\]/, \"\", v); printf \"\\\"greeting\\\":\\\"ok\\\",\\\"protocol\\\":%d,\\\"version\\\":\\\"%s\\\"\", \$5, v }"),\"login\":\"no_php\""
    elif printf %s "$O" | grep -q "^TCP ok"; then J="$J,\"greeting\":\"none\""; fi
  fi
  out "$J"
}
#<full
#>short
RT=none; probe() { out "\"t\":\"$1\",\"rt\":\"none\",\"tcp\":\"untested\",\"error\":\"no php in the container (the probe without php did not fit the command)\""; }
#<short
out "\"t\":\"start\",\"rt\":\"$RT\",\"root\":\"$(esc "$R")\""
# both at once: a black-holed path costs one timeout, not one per endpoint (each line is one write)
probe redis "$REDIS_HOST" "${REDIS_PORT:-6379}" & probe mysql "$DB_HOST" "${DB_PORT:-3306}"; wait
C=false; [ -f "$R/bootstrap/cache/config.php" ] && C=true
P=${REDIS_PREFIX-$(printf %s "${APP_NAME:-laravel}" | tr "A-Z" "a-z" | sed -e "s/-\{1,\}/_/g" -e "s/@/_at_/g" -e "s/[^_a-z0-9[:space:]]//g" -e "s/[_[:space:]]\{1,\}/_/g" -e "s/^_*//" -e "s/_*\$//")_database_}
N=${REDIS_DB:-0}; case $N in *[!0-9]*) N=0 ;; esac
out "\"t\":\"env\",\"config_cache\":$C,\"source\":\"env\",\"redis_prefix\":\"$(esc "$P")\",\"redis_db\":$N,\"fp\":{\"DB_HOST\":null,\"REDIS_HOST\":null,\"APP_KEY\":null,\"DB_PASSWORD\":null},\"fp_note\":\"no php in the image: no fingerprints\""
out "\"t\":\"end\",\"rt\":\"$RT\""
