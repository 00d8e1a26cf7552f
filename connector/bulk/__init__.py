"""``mxguard bulk apply``: many actions from one file, at the token's pace, resumable.

- ``rows``: reading a CSV or JSON-lines file, one operation a row, each validated with its
  action's own input model before anything is sent;
- ``plan``: the requests a file costs and the time the token's limits allow (``--dry-run``);
- ``journal``: what each row came to, fsynced per row, so a run killed at any point resumes;
- ``run``: sending the rows through the client's limiter, with injectable clock, sleep and
  progress; ``results``: the result file, written atomically from the journal;
- ``progress``: a rich bar on a terminal, status lines in a log.

The command is ``connector/cli/bulk.py``; the guide, ``docs/bulk.md``.
"""
