//! Wire names of the API's enums, read from serde.
//!
//! The string a variant has in YAML, in the report and in metric labels is written once: in its
//! serde attributes (`rename_all`, `rename`). [`wire_name`] asks serde for it instead of repeating
//! it in a `match`: serde's derive hands a unit variant's name to the serializer as a
//! `&'static str`, and the serializer here just returns it, so nothing is allocated.

use std::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible};

/// The serde name of a unit variant (`Installer::Uv` → `"uv"`), or `None` when `value` does not
/// serialise as a unit variant (a struct, a number, a variant holding data).
///
/// ```
/// use kaspr_types::{InstallErrorType, wire_name};
///
/// assert_eq!(wire_name(&InstallErrorType::LockTimeout), Some("lock_timeout"));
/// assert_eq!(wire_name(&"a string"), None);
/// ```
pub fn wire_name<T: Serialize + ?Sized>(value: &T) -> Option<&'static str> {
    value.serialize(VariantName).ok()
}

/// Adds `as_str` (the serde name) and `Display` to enums of unit variants.
macro_rules! wire_names {
    ($($ty:ident),+ $(,)?) => {$(
        impl $ty {
            /// The wire name of this variant: its serde name, as in the CRD, the install report
            /// and metric labels.
            pub fn as_str(self) -> &'static str {
                // Every variant of this enum is a unit variant (the `wire_names` test checks each
                // one), so serde always names it.
                $crate::wire::wire_name(&self)
                    .expect(concat!(stringify!($ty), " has only unit variants"))
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )+};
}
pub(crate) use wire_names;

/// A serializer that accepts only a unit variant and returns its name.
struct VariantName;

/// What [`VariantName`] answers for anything but a unit variant.
#[derive(Debug)]
struct NotAUnitVariant;

impl fmt::Display for NotAUnitVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a unit variant")
    }
}

impl std::error::Error for NotAUnitVariant {}

impl ser::Error for NotAUnitVariant {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotAUnitVariant
    }
}

type Refused = Impossible<&'static str, NotAUnitVariant>;

/// Serializer methods that all refuse: name, argument types, what they would return.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*) -> $ok:ty;)+) => {$(
        fn $method(self, $(_: $arg),*) -> Result<$ok, NotAUnitVariant> {
            Err(NotAUnitVariant)
        }
    )+};
}

impl ser::Serializer for VariantName {
    type Ok = &'static str;
    type Error = NotAUnitVariant;
    type SerializeSeq = Refused;
    type SerializeTuple = Refused;
    type SerializeTupleStruct = Refused;
    type SerializeTupleVariant = Refused;
    type SerializeMap = Refused;
    type SerializeStruct = Refused;
    type SerializeStructVariant = Refused;

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<&'static str, NotAUnitVariant> {
        Ok(variant)
    }

    refuse! {
        serialize_bool(bool) -> &'static str;
        serialize_i8(i8) -> &'static str;
        serialize_i16(i16) -> &'static str;
        serialize_i32(i32) -> &'static str;
        serialize_i64(i64) -> &'static str;
        serialize_u8(u8) -> &'static str;
        serialize_u16(u16) -> &'static str;
        serialize_u32(u32) -> &'static str;
        serialize_u64(u64) -> &'static str;
        serialize_f32(f32) -> &'static str;
        serialize_f64(f64) -> &'static str;
        serialize_char(char) -> &'static str;
        serialize_str(&str) -> &'static str;
        serialize_bytes(&[u8]) -> &'static str;
        serialize_none() -> &'static str;
        serialize_unit() -> &'static str;
        serialize_unit_struct(&'static str) -> &'static str;
        serialize_seq(Option<usize>) -> Refused;
        serialize_tuple(usize) -> Refused;
        serialize_tuple_struct(&'static str, usize) -> Refused;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Refused;
        serialize_map(Option<usize>) -> Refused;
        serialize_struct(&'static str, usize) -> Refused;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Refused;
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }
}
