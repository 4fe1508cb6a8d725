/*
 * ctl.h - antomctl's commands beyond send and keygen, one file each
 * (src/ctl_<command>.c).  Each takes the command's own argc/argv
 * (argv[0] is the command's name, getopt already reset) and returns the
 * process exit status.  Not used by the daemon.
 */
#ifndef ANTOMD_CTL_H
#define ANTOMD_CTL_H

int	ctl_explain(int argc, char **argv);
int	ctl_inspect(int argc, char **argv);
int	ctl_events(int argc, char **argv);
int	ctl_refusals(int argc, char **argv);
int	ctl_reverify(int argc, char **argv);
int	ctl_replay(int argc, char **argv);
int	ctl_simulate(int argc, char **argv);

/* "antomctl: [command: ]message" on stderr; command may be NULL. */
void	ctl_warnx(const char *command, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
