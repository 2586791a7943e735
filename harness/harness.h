/*
 * harness — the `mxb` command: argument parsing, subcommands, the run loop.
 * Subcommands return a process exit code: 0 success, 1 failure of the work,
 * 2 bad usage or bad input (messages go to stderr, one line, naming the thing).
 */
#ifndef MXB_HARNESS_H
#define MXB_HARNESS_H

int mxb_main(int argc, char **argv);

int mxb_cmd_predict(int argc, char **argv);
int mxb_cmd_inspect(int argc, char **argv);

#endif
