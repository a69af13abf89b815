#!/usr/bin/env bats
# Who each holder process is to the failing process (parent, child,
# another instance of the same program...), which ones received the
# socket rather than created it, and the hint that follows, with real
# programs: a reloader-style parent, a helper that inherits the listening
# fd across exec, two instances of one server.

load common
load diag_helpers

# PY_BIND_AGAIN: python lines that bind a new socket to 127.0.0.1:port and
# print bind=0 or bind=-1 errno=N (the last line of the program's output).
PY_BIND_AGAIN='try:
    b = socket.socket()
    b.bind(("127.0.0.1", port))
    print("bind=0")
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)'

setup() {
	T=$BATS_TEST_TMPDIR
	export BINDWATCH_SCAN_MS=60000 BINDWATCH_RATELIMIT=0
}

@test "relation parent: a reloader parent bound the port, then started its server, whose bind fails" {
	port=$(free_port)
	# The werkzeug-reloader pattern: the parent imports the app (which binds
	# at import time), then re-runs itself as the serving child.
	shim_py py 'import os, socket, subprocess, sys
port = int(sys.argv[1])
app = socket.socket()
app.bind(("127.0.0.1", port))
app.listen(8)
print("parent=%d" % os.getpid(), flush=True)
child = """import os, socket, sys
print("child=%d" % os.getpid(), flush=True)
try:
    socket.socket().bind(("127.0.0.1", int(sys.argv[1])))
    print("bind=0")
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)
"""
sys.exit(subprocess.run([sys.executable, "-c", child, str(port)]).returncode)' "$port"
	parent=$(sed -n 's/^parent=//p' "$T/py.out")
	child=$(sed -n 's/^child=//p' "$T/py.out")
	assert_equal "$(tail -1 "$T/py.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j py '[.pid, .holders[0].pid, (.holders[0].processes | length), .holders[0].processes[0].relation, .holders[0].processes[0].inherited] | map(tostring) | join(" ")')" \
		"$child $parent 1 parent null"
	hint_has py "pid $parent (python3) is this process's parent"
	hint_has py "bind only in the serving process, or run without the reloader"
}

@test "relation child: a child that kept the listening socket blocks its parent's new bind" {
	port=$(free_port)
	shim_py py 'import os, socket, subprocess, sys
port = int(sys.argv[1])
a = socket.socket()
a.bind(("127.0.0.1", port))
a.listen(8)
a.set_inheritable(True)
helper = subprocess.Popen(["sleep", "300"], close_fds=False)
print("helper=%d" % helper.pid, flush=True)
a.close()
'"$PY_BIND_AGAIN"'
helper.kill()
helper.wait()' "$port"
	helper=$(sed -n 's/^helper=//p' "$T/py.out")
	assert_equal "$(tail -1 "$T/py.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j py '[.holders[0].pid, .holders[0].comm, .holders[0].processes[0].relation, .holders[0].processes[0].inherited] | map(tostring) | join(" ")')" \
		"$helper sleep child null"
	hint_has py "pid $helper (sleep) is a child of this process and still has the socket: stop it"
	hint_has py "if it inherited the socket from this process, close listening sockets in children or mark them close-on-exec"
}

@test "relation child: a child that bound the address itself is to be stopped; close-on-exec is only offered for the case it inherited it" {
	port=$(free_port)
	shim_py py 'import socket, subprocess, sys, time
port = int(sys.argv[1])
child = subprocess.Popen([sys.executable, "-c", "import socket, sys, time\ns = socket.socket()\ns.bind((\"127.0.0.1\", %d))\ns.listen(8)\nprint(\"up\", flush=True)\ntime.sleep(300)" % port], stdout=subprocess.PIPE)
child.stdout.readline()
print("child=%d" % child.pid, flush=True)
'"$PY_BIND_AGAIN"'
child.kill()
child.wait()' "$port"
	child=$(sed -n 's/^child=//p' "$T/py.out")
	assert_equal "$(tail -1 "$T/py.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j py '[.holders[0].pid, .holders[0].processes[0].relation] | map(tostring) | join(" ")')" \
		"$child child"
	hint_has py "pid $child (python3) is a child of this process and still has the socket: stop it;"
	hint_has py "if it inherited the socket from this process"
}

@test "relation same_program: a second instance of a server whose helper inherited the listening fd across exec" {
	port=$(free_port)
	cat >"$T/server.py" <<'PY'
import os, socket, subprocess, sys, time
port, ready = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
try:
    s.bind(("127.0.0.1", port))
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)
    sys.exit(1)
s.listen(8)
s.set_inheritable(True)
# A helper started without closing the listening socket.
helper = subprocess.Popen(["sleep", "300"], close_fds=False)
with open(ready + ".tmp", "w") as f:
    f.write("%d %d\n" % (os.getpid(), helper.pid))
os.rename(ready + ".tmp", ready)
time.sleep(300)
PY
	# The first instance detached (not a sibling of the second: its parent exits).
	setsid -f "$PYTHON3" "$T/server.py" "$port" "$T/first.pids" </dev/null >/dev/null 2>&1
	wait_file "$T/first.pids"
	read -r first helper <"$T/first.pids"
	BG_PIDS+=("$first" "$helper")
	capture second env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		"$PYTHON3" "$T/server.py" "$port" "$T/second.pids"
	assert_equal "$(cat "$T/second.out")" "bind=-1 errno=98"
	assert_eq "first instance" "$(j second '.holders[0].processes[0] | [.pid, .relation, .inherited] | map(tostring) | join(" ")')" \
		"$first same_program null"
	assert_eq "helper" "$(j second '.holders[0].processes[1] | [.pid, .comm, .relation, .inherited, .inherited_from, .across_exec] | map(tostring) | join(" ")')" \
		"$helper sleep none true $first true"
	hint_has second "pid $first (python3) runs the same program as this process: if it is another instance of this program, stop the other instance"
	hint_has second "pid $helper (sleep) inherited it from pid $first across exec: the spawning program must close its listening sockets or mark them close-on-exec"
	# The text report: one line for the socket, the instance first, the helper folded in.
	capture text env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PYTHON3" "$T/server.py" "$port" "$T/third.pids"
	assert_file_has "$T/text.err" "held by pid $first user "
	assert_file_has "$T/text.err" "+ 1 other process (pid $helper)"
	assert_file_has "$T/text.err" "relation same_program"
}

@test "relation: two python3 processes running different code are not same_program, in JSON as in text (one interpreter, two programs)" {
	port=$(free_port)
	setsid -f "$PYTHON3" -c "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', $port)); s.listen(8); open('$T/holder.pid', 'w').write('%d' % __import__('os').getpid()); time.sleep(300)" \
		</dev/null >/dev/null 2>&1
	wait_file "$T/holder.pid"
	holder=$(cat "$T/holder.pid")
	BG_PIDS+=("$holder")
	wait_listen "$port"
	shim_py py 'import socket, sys
port = int(sys.argv[1])
'"$PY_BIND_AGAIN" "$port"
	assert_equal "$(tail -1 "$T/py.out")" "bind=-1 errno=98"
	assert_eq "relation" "$(j py '[.holders[0].pid, .holders[0].processes[0].relation] | map(tostring) | join(" ")')" \
		"$holder none"
	run jone "$T/py.err" '.hint'
	refute_output --partial "same program"
	capture text env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PYTHON3" -c 'import socket, sys
port = int(sys.argv[1])
'"$PY_BIND_AGAIN" "$port"
	assert_file_lacks "$T/text.err" "same_program"
}
