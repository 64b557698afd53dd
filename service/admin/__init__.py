"""What an operator does to accounts, clients, tokens and keys: one layer under the command
line (service/cli) and the admin API to come. An operation takes the stores it works on
(the command line opens them for one command; an app holds them for its lifetime), checks
its input, raises AdminError for what it refuses, and returns a small result."""
