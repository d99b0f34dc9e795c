//! `switchboard`: load config, start, wait for a signal, drain. The
//! composition lives in `switchboard::app`; the commands in `cli`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
