"""Accounts, sessions and tokens, the password policy, invitations and their mail, the rate
limit."""
