<?php
// ame-doctor in-task probe (php part). Reads everything from the environment; prints one
// "AMEPROBE {json}" line per target. Secrets never leave: only keyed HMAC fingerprints.
// Inputs: REDIS_HOST/PORT/PASSWORD/SCHEME, DB_HOST/PORT (the container's own values),
// AME_PROBE_KEY (hex HMAC key), AME_PROBE_TIMEOUT (s), AME_PROBE_ROOT (app root),
// AME_PROBE_RESOLVE ("host=ip,host=ip", like curl --resolve), AME_PROBE_QUEUES ("sync,image,..."):
// LLEN/ZCARD/ZCOUNT of those Laravel queues under the worker's own prefix/DB (O(1)/O(log n) only).
error_reporting(0);
$T = max(0.2, (float)(getenv('AME_PROBE_TIMEOUT') ?: 3));
$ROOT = getenv('AME_PROBE_ROOT') ?: getcwd();
$KEY = hex2bin((string)getenv('AME_PROBE_KEY')) ?: '';
function out($a) { echo 'AMEPROBE ', json_encode($a, JSON_UNESCAPED_SLASHES), "\n"; }
function ev($k) { $v = getenv($k); return $v === false ? null : $v; }
function ms($t0) { return (int)round((hrtime(true) - $t0) / 1e6); }
function resolve($h) {
    foreach (explode(',', (string)getenv('AME_PROBE_RESOLVE')) as $p) {
        $kv = explode('=', $p, 2);
        if (count($kv) == 2 && strcasecmp(trim($kv[0]), $h) == 0) return [trim($kv[1])];
    }
    if (filter_var($h, FILTER_VALIDATE_IP)) return [$h];
    $a = gethostbynamel($h);
    return $a ?: [];
}
function tcp($host, $port, $tls, &$r) {
    global $T;
    $r['addrs'] = resolve($host);
    if (!$r['addrs']) { $r['tcp'] = 'dns'; return null; }
    $ip = $r['addrs'][0];
    $ctx = stream_context_create(['ssl' => ['peer_name' => $host, 'verify_peer' => false, 'verify_peer_name' => false]]);
    $t0 = hrtime(true);
    $s = stream_socket_client(($tls ? 'tls://' : 'tcp://') . (strpos($ip, ':') !== false ? "[$ip]" : $ip) . ":$port",
        $no, $msg, $T, STREAM_CLIENT_CONNECT, $ctx);
    $r['connect_ms'] = ms($t0);
    if (!$s) {
        $m = strtolower((string)$msg);
        $r['tcp'] = ($no == 111 || strpos($m, 'refused') !== false) ? 'refused'
            : (($no == 113 || $no == 101 || strpos($m, 'unreachable') !== false) ? 'unreachable'
            : (($no == 110 || $no == 0 || strpos($m, 'timed out') !== false) ? 'timeout' : 'error'));
        $r['error'] = "$no $msg";
        return null;
    }
    $r['tcp'] = 'ok';
    stream_set_timeout($s, (int)ceil($T));
    return $s;
}
function line($s) { $l = fgets($s, 512); return $l === false ? null : rtrim($l, "\r\n"); }
function cmd($s, $args) {
    $b = '*' . count($args) . "\r\n";
    foreach ($args as $a) $b .= '$' . strlen($a) . "\r\n" . $a . "\r\n";
    fwrite($s, $b);
}
function reply($s) {
    $l = line($s);
    if ($l === null) return null;
    if ($l[0] == '*') { $out = []; for ($i = 0, $n = (int)substr($l, 1); $i < $n; $i++) $out[] = reply($s); return $out; }
    if ($l[0] == '$') { $n = (int)substr($l, 1); if ($n < 0) return ''; $d = ''; while (strlen($d) < $n + 2 && !feof($s)) { $c = fread($s, $n + 2 - strlen($d)); if ($c === false || $c === '') break; $d .= $c; } return substr($d, 0, $n); }
    return $l;
}
function redis_probe() {
    $h = ev('REDIS_HOST');
    $r = ['t' => 'redis', 'host' => $h, 'port' => (int)(ev('REDIS_PORT') ?: 6379), 'rt' => 'php'];
    if (!$h) { $r['tcp'] = 'unset'; return out($r); }
    $tls = strtolower((string)ev('REDIS_SCHEME')) === 'tls';
    $r['tls'] = $tls;
    $s = tcp($h, $r['port'], $tls, $r);
    if (!$s) return out($r);
    $pw = ev('REDIS_PASSWORD');
    if ($pw !== null && $pw !== '' && $pw !== 'null') {
        $u = ev('REDIS_USERNAME');
        cmd($s, $u ? ['AUTH', $u, $pw] : ['AUTH', $pw]);
        $a = reply($s);
        if ($a === '+OK') $r['auth'] = 'ok';
        elseif (is_string($a) && preg_match('/without any password|no password is set/i', $a)) $r['auth'] = 'not_required';
        elseif (is_string($a) && preg_match('/WRONGPASS|invalid password|invalid username/i', $a)) $r['auth'] = 'failed';
        else $r['auth'] = $a === null ? 'timeout' : 'error';
    } else $r['auth'] = 'none';
    cmd($s, ['PING']);
    $p = reply($s);
    if ($p === null) $r['reply'] = 'TIMEOUT';
    elseif ($p === '+PONG') $r['reply'] = 'PONG';
    elseif (is_string($p) && $p[0] == '-') { $w = explode(' ', substr($p, 1)); $r['reply'] = $w[0]; $r['error'] = substr($p, 1, 200); }
    else $r['reply'] = 'OTHER';
    if (($r['auth'] ?? '') === 'failed' && $r['reply'] !== 'PONG') $r['reply'] = 'WRONGPASS';
    if ($r['reply'] === 'PONG') {
        cmd($s, ['ROLE']);
        $role = reply($s);
        $r['role'] = is_array($role) && isset($role[0]) ? $role[0] : null;
        queues($s);
    }
    fclose($s);
    out($r);
}
function mysql_probe() {
    $h = ev('DB_HOST');
    $r = ['t' => 'mysql', 'host' => $h, 'port' => (int)(ev('DB_PORT') ?: 3306), 'rt' => 'php'];
    if (!$h) { $r['tcp'] = 'unset'; return out($r); }
    $s = tcp($h, $r['port'], false, $r);
    if (!$s) return out($r);
    $hdr = fread($s, 4);
    if ($hdr === false || strlen($hdr) < 4) { $r['greeting'] = 'none'; fclose($s); return out($r); }
    $n = ord($hdr[0]) | (ord($hdr[1]) << 8) | (ord($hdr[2]) << 16);
    $p = '';
    while (strlen($p) < min($n, 256) && !feof($s)) { $c = fread($s, min($n, 256) - strlen($p)); if ($c === false || $c === '') break; $p .= $c; }
    fclose($s);
    if ($p === '') { $r['greeting'] = 'none'; return out($r); }
    if (ord($p[0]) == 0xff) { $r['greeting'] = 'error'; $r['error'] = substr($p, 3, 200); return out($r); }
    $r['greeting'] = 'ok';
    $r['protocol'] = ord($p[0]);
    $r['version'] = substr($p, 1, strcspn($p, "\0", 1));
    out($r);
}
function dirs() {
    global $ROOT;
    $d = [];
    foreach (['storage/framework/cache', 'storage/framework/sessions', 'storage/framework/views', 'storage/logs', 'bootstrap/cache'] as $p) {
        $f = rtrim($ROOT, '/') . '/' . $p;
        $d[$p] = !is_dir($f) ? 'missing' : (is_writable($f) ? 'ok' : 'unwritable');
    }
    out(['t' => 'dirs', 'root' => $ROOT, 'dirs' => $d]);
}
function slug($t) {
    $t = preg_replace('![-]+!', '_', $t);
    $t = str_replace('@', '_at_', $t);
    $t = preg_replace('![^_\w\s]+!u', '', strtolower($t));
    $t = preg_replace('![_\s]+!u', '_', $t);
    return trim($t, '_');
}
function fp($v) { global $KEY; return ($v === null || $KEY === '') ? null : 'hmac:' . substr(hash_hmac('sha256', (string)$v, $KEY), 0, 16); }
function cached() {
    global $ROOT;
    static $c = false;
    if ($c === false) { $c = null; $f = rtrim($ROOT, '/') . '/bootstrap/cache/config.php'; if (is_file($f)) { $x = @include $f; if (is_array($x)) $c = $x; } }
    return $c;
}
function where() {
    $c = cached();
    if ($c !== null) { $rd = $c['database']['redis'] ?? []; return [$rd['options']['prefix'] ?? '', isset($rd['default']['database']) ? (int)$rd['default']['database'] : 0]; }
    return [ev('REDIS_PREFIX') ?? (slug(ev('APP_NAME') ?? 'laravel') . '_database_'), (int)(ev('REDIS_DB') ?? 0)];
}
function queues($s) {
    $names = array_filter(explode(',', (string)ev('AME_PROBE_QUEUES')));
    if (!$names) return;
    [$px, $db] = where();
    $q = ['t' => 'queues', 'prefix' => $px, 'db' => $db, 'queues' => []];
    if ($db) { cmd($s, ['SELECT', (string)$db]); reply($s); }
    $now = time(); $old = (string)($now - 30);
    foreach ($names as $n) {
        $k = $px . 'queues:' . $n;
        foreach ([['LLEN', $k], ['ZCARD', "$k:reserved"], ['ZCARD', "$k:delayed"], ['ZCOUNT', "$k:reserved", '-inf', $old], ['ZCOUNT', "$k:delayed", '-inf', $old], ['ZRANGE', "$k:reserved", '0', '0', 'WITHSCORES'], ['ZRANGE', "$k:delayed", '0', '0', 'WITHSCORES']] as $a) cmd($s, $a);
        $v = []; for ($i = 0; $i < 7; $i++) { $x = reply($s); $v[] = is_array($x) ? ($x[1] ?? null) : (is_string($x) && $x !== '' && $x[0] == ':' ? (int)substr($x, 1) : null); }
        $q['queues'][$n] = ['ready' => $v[0], 'reserved' => $v[1], 'delayed' => $v[2], 'expired_reserved' => $v[3], 'overdue_delayed' => $v[4], 'oldest_reserved_score' => $v[5] === null ? null : (float)$v[5], 'oldest_delayed_score' => $v[6] === null ? null : (float)$v[6]];
    }
    $q['at'] = $now;
    out($q);
}
function envinfo() {
    $c = cached();
    $r = ['t' => 'env', 'config_cache' => $c !== null];
    if ($c !== null) {
        $rd = $c['database']['redis'] ?? [];
        $m = $c['database']['connections'][$c['database']['default'] ?? 'mysql'] ?? [];
        $r['redis_prefix'] = $rd['options']['prefix'] ?? null;
        $r['redis_db'] = isset($rd['default']['database']) ? (int)$rd['default']['database'] : null;
        $vals = ['DB_HOST' => $m['host'] ?? null, 'REDIS_HOST' => $rd['default']['host'] ?? null,
                 'APP_KEY' => $c['app']['key'] ?? null, 'DB_PASSWORD' => $m['password'] ?? null];
        $r['source'] = 'config_cache';
    } else {
        $r['redis_prefix'] = ev('REDIS_PREFIX') ?? (slug(ev('APP_NAME') ?? 'laravel') . '_database_');
        $r['redis_db'] = (int)(ev('REDIS_DB') ?? 0);
        $vals = ['DB_HOST' => ev('DB_HOST'), 'REDIS_HOST' => ev('REDIS_HOST'), 'APP_KEY' => ev('APP_KEY'), 'DB_PASSWORD' => ev('DB_PASSWORD')];
        $r['source'] = 'env';
    }
    $r['app_name'] = ev('APP_NAME');
    $r['fp'] = array_map('fp', $vals);
    out($r);
}
out(['t' => 'start', 'rt' => 'php', 'php' => PHP_VERSION, 'root' => $ROOT]);
redis_probe();
mysql_probe();
dirs();
envinfo();
out(['t' => 'end', 'rt' => 'php']);
