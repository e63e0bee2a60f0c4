<?php
// ame-doctor in-task probe (php part), run by probe.sh when the image has php: twice at once, the second
// (argument "mysql") for MySQL only, so a black-holed path costs one timeout, not one per endpoint.
// Connects the way Laravel does: the cached config (bootstrap/cache/config.php) when present, else the environment. One
// "AMEPROBE {json}" line per target. Secrets never leave: values only as keyed fingerprints.
// Inputs: AME_PROBE_DH (the doctor's Diffie-Hellman public value, base64), AME_PROBE_TIMEOUT (s),
// AME_PROBE_ROOT (the app root probe.sh found), AME_PROBE_RESOLVE ("host=ip,..." like curl --resolve),
// AME_PROBE_QUEUES ("sync,image,..."): LLEN/ZCARD/ZCOUNT of those Laravel queues (O(1)/O(log n) only).
error_reporting(0);
$T = max(0.2, (float)(getenv('AME_PROBE_TIMEOUT') ?: 3));
$ROOT = getenv('AME_PROBE_ROOT') ?: null;
function out($a) { echo 'AMEPROBE ' . json_encode($a, JSON_UNESCAPED_SLASHES) . "\n"; } // one write: two phps share stdout
function ev($k) { $v = getenv($k); return $v === false ? null : $v; }
function ms($t0) { return (int)round((hrtime(true) - $t0) / 1e6); }
// --- the fingerprint key: ephemeral ECDH (P-256, openssl) with the doctor's public key (keys.py) ------
function agree() {
    $a = base64_decode((string)getenv('AME_PROBE_DH'), true);
    if (!$a) return [null, null, 'no key exchange requested'];
    if (!function_exists('openssl_pkey_derive')) return [null, null, 'php lacks openssl_pkey_derive (openssl, PHP >= 7.3)'];
    $k = openssl_pkey_new(['private_key_type' => OPENSSL_KEYTYPE_EC, 'curve_name' => 'prime256v1']);
    $z = $k ? openssl_pkey_derive("-----BEGIN PUBLIC KEY-----\n" . chunk_split(base64_encode($a), 64, "\n") . "-----END PUBLIC KEY-----\n", $k) : false;
    if (!$z) return [null, null, 'key exchange failed'];
    return [hash('sha256', "ame-doctor probe fingerprint v1\0" . ltrim($z, "\0"), true),
            preg_replace('/-----[^-]+-----|\s/', '', openssl_pkey_get_details($k)['key']), null];
}
$ONLY = $argv[1] ?? ''; // 'mysql': the second php, run by probe.sh at the same time, probes MySQL only
[$KEY, $PUB, $NOFP] = $ONLY ? [null, null, null] : agree();
function fp($v) { global $KEY; return ($v === null || $KEY === null) ? null : 'hmac:' . substr(hash_hmac('sha256', (string)$v, $KEY), 0, 32); }
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
function slug($t) {
    $t = preg_replace('![-]+!', '_', $t);
    $t = str_replace('@', '_at_', $t);
    $t = preg_replace('![^_\w\s]+!u', '', strtolower($t));
    $t = preg_replace('![_\s]+!u', '_', $t);
    return trim($t, '_');
}
function cached() {
    global $ROOT;
    static $c = false;
    if ($c === false) { $c = null; $f = rtrim((string)$ROOT, '/') . '/bootstrap/cache/config.php'; if ($ROOT && is_file($f)) { $x = @include $f; if (is_array($x)) $c = $x; } }
    return $c;
}
// What Laravel connects with, by env name: the cached config when present (Laravel then ignores the
// environment), else the environment.
function conf() {
    $e = getenv();
    $c = cached();
    if ($c === null) return ['src' => 'env', 'REDIS_PREFIX' => $e['REDIS_PREFIX'] ?? slug($e['APP_NAME'] ?? 'laravel') . '_database_'] + $e;
    $r = $c['database']['redis'] ?? [];
    $d = $r['default'] ?? [];
    $m = $c['database']['connections'][$c['database']['default'] ?? 'mysql'] ?? [];
    $k = [];
    foreach (['HOST' => 'host', 'PORT' => 'port', 'PASSWORD' => 'password', 'USERNAME' => 'username'] as $n => $f) { $k["REDIS_$n"] = $d[$f] ?? null; $k["DB_$n"] = $m[$f] ?? null; }
    return $k + ['src' => 'config_cache', 'REDIS_PREFIX' => $r['options']['prefix'] ?? '', 'REDIS_DB' => $d['database'] ?? 0,
        'REDIS_SCHEME' => $d['scheme'] ?? null, 'DB_DATABASE' => $m['database'] ?? null, 'APP_KEY' => $c['app']['key'] ?? null] + $e;
}
function redis_probe($k) {
    $h = ($k['REDIS_HOST'] ?? null);
    $r = ['t' => 'redis', 'host' => $h, 'port' => (int)(($k['REDIS_PORT'] ?? 0) ?: 6379), 'rt' => 'php'];
    if (!$h) { $r['tcp'] = 'unset'; return out($r); }
    $tls = strtolower((string)($k['REDIS_SCHEME'] ?? '')) === 'tls';
    $r['tls'] = $tls;
    $s = tcp($h, $r['port'], $tls, $r);
    if (!$s) return out($r);
    $pw = ($k['REDIS_PASSWORD'] ?? null);
    if ($pw !== null && $pw !== '' && $pw !== 'null') {
        $u = ($k['REDIS_USERNAME'] ?? null);
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
        queues($s, $k);
    }
    fclose($s);
    out($r);
}
// Log in as the worker would (pdo_mysql, else mysqli) and read whether the server accepts writes.
function login($ip, $port, $k, &$r) {
    global $T;
    $u = $k['DB_USERNAME'] ?? null;
    if ($u === null || $u === '') { $r['login'] = 'skipped'; return; }
    $pw = (string)($k['DB_PASSWORD'] ?? ''); $db = (string)($k['DB_DATABASE'] ?? ''); $q = 'SELECT @@innodb_read_only, @@read_only';
    ini_set('mysqlnd.net_read_timeout', (string)ceil($T)); // a server that stalls after the greeting
    try {
        if (extension_loaded('pdo_mysql')) {
            $r['driver'] = 'pdo_mysql';
            $c = new PDO("mysql:host=$ip;port=$port" . ($db !== '' ? ";dbname=$db" : ''), $u, $pw,
                [PDO::ATTR_TIMEOUT => (int)ceil($T), PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
            $row = $c->query($q)->fetch(PDO::FETCH_NUM);
        } elseif (class_exists('mysqli')) {
            $r['driver'] = 'mysqli';
            mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
            $c = mysqli_init();
            $c->options(MYSQLI_OPT_CONNECT_TIMEOUT, (int)ceil($T));
            $c->real_connect($ip, $u, $pw, $db !== '' ? $db : null, $port);
            $row = $c->query($q)->fetch_row();
        } else { $r['login'] = 'no_driver'; return; }
        $r['login'] = 'ok';
        $r['innodb_read_only'] = (int)$row[0];
        $r['read_only'] = (int)$row[1];
    } catch (Exception $e) {
        $m = $e->getMessage();
        $n = preg_match('/\[(\d{4})\]/', $m, $x) ? (int)$x[1] : (int)$e->getCode();
        $r['login'] = in_array($n, [1044, 1045, 1049, 1698]) ? 'failed' : 'error';
        $r['login_code'] = $n;
        $r['login_error'] = substr($m, 0, 200);
    }
}
function mysql_probe($k) {
    $h = ($k['DB_HOST'] ?? null);
    $r = ['t' => 'mysql', 'host' => $h, 'port' => (int)(($k['DB_PORT'] ?? 0) ?: 3306), 'rt' => 'php'];
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
    login($r['addrs'][0], $r['port'], $k, $r);
    out($r);
}
function queues($s, $k) {
    $names = array_filter(explode(',', (string)ev('AME_PROBE_QUEUES')));
    if (!$names) return;
    $px = $k['REDIS_PREFIX']; $db = (int)($k['REDIS_DB'] ?? 0);
    $q = ['t' => 'queues', 'prefix' => $px, 'db' => $db, 'queues' => []];
    if ($db) { cmd($s, ['SELECT', (string)$db]); reply($s); }
    $now = time(); $old = (string)($now - 30);
    foreach ($names as $n) {
        $x = $px . 'queues:' . $n;
        foreach ([['LLEN', $x], ['ZCARD', "$x:reserved"], ['ZCARD', "$x:delayed"], ['ZCOUNT', "$x:reserved", '-inf', $old], ['ZCOUNT', "$x:delayed", '-inf', $old], ['ZRANGE', "$x:reserved", '0', '0', 'WITHSCORES'], ['ZRANGE', "$x:delayed", '0', '0', 'WITHSCORES']] as $a) cmd($s, $a);
        $v = []; for ($i = 0; $i < 7; $i++) { $y = reply($s); $v[] = is_array($y) ? ($y[1] ?? null) : (is_string($y) && $y !== '' && $y[0] == ':' ? (int)substr($y, 1) : null); }
        $q['queues'][$n] = ['ready' => $v[0], 'reserved' => $v[1], 'delayed' => $v[2], 'expired_reserved' => $v[3], 'overdue_delayed' => $v[4], 'oldest_reserved_score' => $v[5] === null ? null : (float)$v[5], 'oldest_delayed_score' => $v[6] === null ? null : (float)$v[6]];
    }
    $q['at'] = $now;
    out($q);
}
$K = conf();
if ($ONLY) exit(mysql_probe($K) ?? 0);
out(['t' => 'start', 'rt' => 'php', 'php' => PHP_VERSION, 'root' => $ROOT, 'dh' => $PUB]);
redis_probe($K);
$e = ['t' => 'env', 'config_cache' => $K['src'] === 'config_cache', 'source' => $K['src'], 'redis_prefix' => $K['REDIS_PREFIX'],
    'redis_db' => (int)($K['REDIS_DB'] ?? 0), 'app_name' => ev('APP_NAME'), 'fp' => []];
foreach (['DB_HOST', 'REDIS_HOST', 'APP_KEY', 'DB_PASSWORD'] as $n) $e['fp'][$n] = fp($K[$n] ?? null);
if ($NOFP) $e['fp_note'] = $NOFP;
out($e);
out(['t' => 'end', 'rt' => 'php']);
