# attack: poison the report: terminal escape sequences, bidi overrides and markup in exception
# messages, cell tracebacks and printed output; an exception whose __str__ never returns; a huge one
# stopped-by: sandbox
# expect: cell1=error scale=error guess_target=error guess_suite_token=timeout add_one=passed
# seconds: 60
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m[bold red]<script>alert(1)</script>\u202e\x9b31m\r"
print(ESCAPES * 100)
raise RuntimeError(ESCAPES * 1000)
# %%
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m[bold red]<script>alert(1)</script>\u202e\x9b31m\r"


class Endless(Exception):
    def __str__(self):
        while True:
            pass


def scale(x, factor):
    raise ValueError(ESCAPES + "E" * (50 << 20))


def guess_target():
    raise type(ESCAPES.replace("\x1b", "X")[:10] + "Error", (Exception,), {})(ESCAPES)


def guess_suite_token():
    raise Endless()
