//! Whole numbers of seconds with a bound, parsed with an error that names the variable and the
//! flag, the range and the value (its first 100 characters), whether the value came from the
//! environment or the command line.

use std::ffi::OsStr;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;

/// Seconds from 0 to `max`; `max_shown` says the bound in words (e.g. "366 days").
#[derive(Debug, Clone, Copy)]
pub(super) struct SecondsUpTo {
    pub max: u64,
    pub max_shown: &'static str,
}

impl TypedValueParser for SecondsUpTo {
    type Value = u64;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<u64, clap::Error> {
        let text = value.to_string_lossy();
        text.parse::<u64>()
            .ok()
            .filter(|&seconds| seconds <= self.max)
            .ok_or_else(|| {
                let shown: String = text.chars().take(100).collect();
                let cut = if shown.len() < text.len() { "…" } else { "" };
                let variable = arg
                    .and_then(clap::Arg::get_env)
                    .map(|env| env.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let flag = arg
                    .and_then(clap::Arg::get_long)
                    .map(|long| format!(" (--{long})"))
                    .unwrap_or_default();
                let message = format!(
                    "{variable}{flag} must be a whole number of seconds from 0 to {} ({}), got \
                     '{shown}{cut}'\n",
                    self.max, self.max_shown
                );
                clap::Error::raw(ErrorKind::ValueValidation, message).with_cmd(cmd)
            })
    }
}
