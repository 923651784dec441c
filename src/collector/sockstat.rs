//! Not yet implemented.
use crate::collector::Ctx;
use crate::expo::Encoder;
use crate::source::Error;

pub fn collect(_ctx: &mut Ctx, _out: &mut Encoder) -> Result<(), Error> {
    Ok(())
}
