# attack: a cell that never ends; the cell after it must still run (it breaks add_one, which
# shows that it did)
# stopped-by: sandbox
# expect: cell1=timeout cell2=ok add_one=failed scale=failed
# seconds: 40
while True:
    pass
# %%
def add_one(x):
    return x + 2
