//! The `meshflow` command-line tool. Run `meshflow --help`.

use clap::Parser;

fn main() {
    let argv = match meshflow::cli::config::expand_config_file(std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    };
    let cli = meshflow::cli::Cli::parse_from(argv);
    if let Err(e) = meshflow::cli::run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
