/* Subcommand entry points of the `ward` binary. Each takes argc/argv with
 * argv[0] being the subcommand name, and returns the process exit status. */
#ifndef WARD_CLI_H
#define WARD_CLI_H

#define WARD_VERSION "0.1.0"

int ward_agent_main(int argc, char **argv);
int ward_iptables_main(int argc, char **argv);
int ward_inject_main(int argc, char **argv);
int ward_uninject_main(int argc, char **argv);
int ward_wait_main(int argc, char **argv);
int ward_webhook_main(int argc, char **argv);
int ward_doctor_main(int argc, char **argv);
int ward_status_main(int argc, char **argv);
int ward_server_main(int argc, char **argv);

#endif
