//! The `meshflow` command-line tool. Run `meshflow --help`.

use clap::Parser;

fn main() {
    let cli = meshflow::cli::Cli::parse();
    if let Err(e) = meshflow::cli::run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
