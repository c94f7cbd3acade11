//! Prints what a fuzz input decodes to, then runs it through its target:
//!
//!     cargo run -p vmem-fuzz-harness --example show -- arena_ops FILE
//!
//! (`scenario_parse` inputs are script text: they are printed as such.)

use vmem_fuzz_harness::{arena_ops, c_api, scenario_parse};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, file] = &args[..] else {
        eprintln!("usage: show arena_ops|scenario_parse|c_api FILE");
        std::process::exit(2);
    };
    let bytes = std::fs::read(file).expect("readable input file");
    match target.as_str() {
        "arena_ops" => {
            println!("{:#?}", arena_ops::decode(&bytes));
            arena_ops::run(&bytes);
        }
        "c_api" => {
            println!("{:#?}", c_api::decode(&bytes));
            c_api::run(&bytes);
        }
        "scenario_parse" => {
            println!("{}", String::from_utf8_lossy(&bytes));
            scenario_parse::run(&bytes);
        }
        other => panic!("unknown target {other}"),
    }
    println!("ok: no disagreement");
}
