/* The sidecar's commands. Each takes argc/argv with argv[0] being the
 * subcommand name, and returns the process exit status. */
#ifndef WARD_AGENT_CLI_H
#define WARD_AGENT_CLI_H

#include "lib/version.h"

int ward_agent_main(int argc, char **argv);
int ward_iptables_main(int argc, char **argv);
int ward_doctor_main(int argc, char **argv);
int ward_status_main(int argc, char **argv);
int ward_drill_main(int argc, char **argv);

#endif
