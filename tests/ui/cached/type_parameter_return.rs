use cachify::cached;

pub trait Failing {
    fn failed() -> Self;
}

// Called as `outcome::<Result<u32, String>>`, its `Err` would be stored: the shape is
// chosen where the function is defined.
#[cached(key = "outcome-{n}")]
fn outcome<R>(n: u32) -> R
where
    R: Failing + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let _ = n;
    R::failed()
}

pub trait Job {
    type Output;
    fn run(&self) -> Self::Output;
}

#[cached(key = "job")]
fn associated<J: Job>(job: J) -> J::Output {
    job.run()
}

fn main() {}
