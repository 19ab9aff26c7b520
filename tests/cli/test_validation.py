"""Every number a command takes is checked as it is parsed: a wrong one is one line on stderr and exit
status 1, never a traceback nor a silent fallback. The sweep below reads the commands' parameters from
the click tree, so a numeric option added later is attacked too; the cases of issue 18 ("found" item 4)
run the real `fs3` program against a real cluster."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from _cli import one_error_line
from click.testing import CliRunner

from fs3.cli import cli
from fs3.cli._common import Number, Size

HUGE = str(10**30)


def _commands(group=cli, path=()):
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def _numeric_params():
    for path, cmd in _commands():
        for param in cmd.params:
            if isinstance(param.type, (Number, Size)):
                yield pytest.param(path, param, id=" ".join(path) + " " + param.name)


def _bad_values(t) -> list[str]:
    """Out of range (below the least allowed, beyond the wire), not a number, not finite."""
    if isinstance(t, Size):
        return ["-1", "abc", "inf", "nan", "1e30P"] + ([] if t.allow_zero else ["0"])
    below = str(t.low if t.above else t.low - 1) if t.kind is int else str(t.low - 1)
    values = [below, HUGE, "abc", "1.5x"]
    if t.kind is int:
        values.append("2.5")
    else:
        values += ["nan", "inf", "-inf"]
    return values


def test_no_numeric_option_is_left_unbounded():
    """The floor: nothing is declared with click's plain int or float (or a click range, which lets NaN
    through) once the CLI is assembled."""
    loose = [f"{' '.join(path)} {p.name}" for path, cmd in _commands() for p in cmd.params
             if isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType))]
    assert loose == []


@pytest.mark.parametrize(("path", "param"), list(_numeric_params()))
def test_each_numeric_parameter_refuses_bad_values_in_one_line(path, param, tmp_path):
    runner = CliRunner()
    for value in _bad_values(param.type):
        if isinstance(param, click.Option):
            args = [*path, f"{max(param.opts, key=len)}={value}"]
        else:
            args = [*path, "--", value]
        # --cluster names a directory with nothing in it: if a value slipped through, the command fails
        # to reach a cluster instead of starting or changing anything
        result = runner.invoke(cli, ["--cluster", str(tmp_path), *args], env={"FS3_DATA_DIR": str(tmp_path)})
        where = f"fs3 {' '.join(args)}"
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            f"{where}: {result.exc_info}"
        assert result.exit_code == 1, f"{where}: exit {result.exit_code}: {result.stderr}"
        err = result.stderr.strip()
        assert len(err.splitlines()) == 1 and "Invalid" in err and "Traceback" not in err, f"{where}: {err}"
        assert value in err or repr(value) in err, f"{where}: {err}"


def test_good_values_still_parse():
    """The bounds are not too tight: the defaults and ordinary values pass (a plan needs no cluster)."""
    result = CliRunner().invoke(cli, ["cluster", "plan", "--nodes", "6", "--targets", "2", "--replicas", "3",
                                      "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["chains"] > 0


# -- issue 18, found item 4, through the real program ----------------------------------------------------

def fs3(cluster, *args, input=None):
    return subprocess.run([sys.executable, "-m", "fs3", "--cluster", str(cluster.data_dir), *args],
                          capture_output=True, input=input, timeout=120)


def test_mkdir_mode_minus_one(cluster, client, workdir):
    one_error_line(fs3(cluster, "mkdir", "-m", "-1", f"fs3://{workdir}/d"), "Invalid mode '-1'")
    one_error_line(fs3(cluster, "mkdir", "-m", "17777", f"fs3://{workdir}/d"), "Invalid mode")
    assert not client.exists(f"{workdir}/d")
    assert fs3(cluster, "mkdir", "-m", "700", f"fs3://{workdir}/d").returncode == 0
    assert client.stat(f"{workdir}/d").mode == 0o700


def test_chown_to_a_uid_the_wire_cannot_carry(cluster, client, workdir):
    client.write(f"{workdir}/f", b"x")
    one_error_line(fs3(cluster, "chown", "99999999999999", f"fs3://{workdir}/f"), "Invalid user '99999999999999'")
    one_error_line(fs3(cluster, "chown", "4294967295", f"fs3://{workdir}/f"), "Invalid user")  # (uint32)-1
    one_error_line(fs3(cluster, "chown", ":99999999999999", f"fs3://{workdir}/f"), "Invalid group")
    one_error_line(fs3(cluster, "chown", "no-such-user-x", f"fs3://{workdir}/f"), "no such fs3 user")
    st = client.stat(f"{workdir}/f")
    assert (st.uid, st.gid) == (0, 0)  # untouched
    assert fs3(cluster, "chown", "4242:4243", f"fs3://{workdir}/f").returncode == 0
    st = client.stat(f"{workdir}/f")
    assert (st.uid, st.gid) == (4242, 4243)


def test_chown_by_registry_name(cluster, client, workdir):
    from _users import fresh_user

    info, _ = fresh_user(client, "chown-by-name", uid=51517, gid=51517)
    client.write(f"{workdir}/f", b"x")
    assert fs3(cluster, "chown", "chown-by-name:chown-by-name", f"fs3://{workdir}/f").returncode == 0
    st = client.stat(f"{workdir}/f")
    assert (st.uid, st.gid) == (51517, 51517)


def test_user_add_with_a_negative_uid(cluster, client):
    one_error_line(fs3(cluster, "user", "add", "neg-uid", "--uid", "-7"), "Invalid --uid '-7'")
    one_error_line(fs3(cluster, "user", "add", "neg-uid", "--gid", HUGE), "Invalid --gid")
    one_error_line(fs3(cluster, "user", "add", "neg-uid", "--uid", "0"), "Invalid --uid '0'")  # not "the next free"
    assert "neg-uid" not in {u.name for u in client.list_users()}


def test_cluster_offline_minus_one(cluster, client):
    before = [(t.id, t.admin_offline) for t in client.routing_info().targets]
    one_error_line(fs3(cluster, "cluster", "offline", "--", "-1"), "Invalid TARGET_IDS '-1'")
    one_error_line(fs3(cluster, "cluster", "online", HUGE), "Invalid TARGET_IDS")
    one_error_line(fs3(cluster, "cluster", "history", "--chain", "-3"), "Invalid --chain '-3'")
    assert [(t.id, t.admin_offline) for t in client.routing_info().targets] == before


def test_up_replicas_zero_is_refused_not_three(tmp_path):
    data = tmp_path / "never"
    proc = subprocess.run([sys.executable, "-m", "fs3", "up", "--detach", "--data-dir", str(data), "--replicas", "0"],
                          capture_output=True, timeout=120)
    one_error_line(proc, "Invalid --replicas '0'")
    assert not data.exists()  # nothing started, nothing written


def test_bench_duration_minus_one(cluster):
    one_error_line(fs3(cluster, "bench", "read", "--duration", "-1"), "--duration", "-1")


def test_quota_limits_beyond_the_wire(cluster, workdir):
    one_error_line(fs3(cluster, "quota", "set", f"fs3://{workdir}", "--bytes", "inf"), "Invalid size 'inf'")
    one_error_line(fs3(cluster, "quota", "set", f"fs3://{workdir}", "--inodes", HUGE), "Invalid inode limit")
    one_error_line(fs3(cluster, "quota", "ls", "--user", HUGE), "Invalid user")
