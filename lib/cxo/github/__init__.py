"""What cxo reads and writes on GitHub beside the tracker's REST calls: claim comments and leases (`claims.py`),
`@cxo` commands in comments (`commands.py`), and the feedback on cxo's pull requests (`feedback.py`), with the
runner-written markers every host trusts."""
