//! Parameter and level names (a small subset of the ecCodes tables, with ecCodes' short
//! names so that they match what cfgrib/xarray users see).

/// `(short name, long name, units)`.
type Entry = (&'static str, &'static str, &'static str);

/// ECMWF local table 2 version 128 (`table2Version = 128`), as used by ERA5 GRIB1.
fn ecmwf_128(number: u8) -> Option<Entry> {
    Some(match number {
        31 => ("ci", "Sea ice area fraction", "(0 - 1)"),
        34 => ("sst", "Sea surface temperature", "K"),
        59 => ("cape", "Convective available potential energy", "J kg**-1"),
        129 => ("z", "Geopotential", "m**2 s**-2"),
        130 => ("t", "Temperature", "K"),
        131 => ("u", "U component of wind", "m s**-1"),
        132 => ("v", "V component of wind", "m s**-1"),
        133 => ("q", "Specific humidity", "kg kg**-1"),
        134 => ("sp", "Surface pressure", "Pa"),
        135 => ("w", "Vertical velocity", "Pa s**-1"),
        137 => (
            "tcwv",
            "Total column vertically-integrated water vapour",
            "kg m**-2",
        ),
        138 => ("vo", "Vorticity (relative)", "s**-1"),
        141 => ("sd", "Snow depth", "m of water equivalent"),
        151 => ("msl", "Mean sea level pressure", "Pa"),
        155 => ("d", "Divergence", "s**-1"),
        157 => ("r", "Relative humidity", "%"),
        164 => ("tcc", "Total cloud cover", "(0 - 1)"),
        165 => ("10u", "10 metre U wind component", "m s**-1"),
        166 => ("10v", "10 metre V wind component", "m s**-1"),
        167 => ("2t", "2 metre temperature", "K"),
        168 => ("2d", "2 metre dewpoint temperature", "K"),
        172 => ("lsm", "Land-sea mask", "(0 - 1)"),
        228 => ("tp", "Total precipitation", "m"),
        235 => ("skt", "Skin temperature", "K"),
        _ => return None,
    })
}

/// WMO standard GRIB1 table 2 (`table2Version` 1 to 3).
fn wmo_grib1(number: u8) -> Option<Entry> {
    Some(match number {
        1 => ("pres", "Pressure", "Pa"),
        2 => ("prmsl", "Pressure reduced to MSL", "Pa"),
        6 => ("z", "Geopotential", "m**2 s**-2"),
        7 => ("gh", "Geopotential height", "gpm"),
        11 => ("t", "Temperature", "K"),
        33 => ("u", "U component of wind", "m s**-1"),
        34 => ("v", "V component of wind", "m s**-1"),
        39 => ("w", "Vertical velocity", "Pa s**-1"),
        51 => ("q", "Specific humidity", "kg kg**-1"),
        52 => ("r", "Relative humidity", "%"),
        _ => return None,
    })
}

/// GRIB1 parameter: ECMWF's table 128 when the centre is ECMWF (98), the WMO table for
/// versions 1–3 (any centre); `None` otherwise (the caller names it `param<N>`).
pub(crate) fn grib1_parameter(table_version: u8, centre: u16, number: u8) -> Option<Entry> {
    match (table_version, centre) {
        (128, 98) => ecmwf_128(number),
        (1..=3, _) => wmo_grib1(number),
        _ => None,
    }
}

/// GRIB2 parameter from discipline/category/number, refined by the first fixed surface
/// (ecCodes gives `2t` for temperature at 2 m above ground, `msl` for pressure at mean sea
/// level, and so on).
pub(crate) fn grib2_parameter(
    discipline: u8,
    category: u8,
    number: u8,
    surface: u8,
    level: f64,
) -> Option<Entry> {
    let hag = surface == 103;
    Some(match (discipline, category, number) {
        (0, 0, 0) if hag && level == 2.0 => ("2t", "2 metre temperature", "K"),
        (0, 0, 0) => ("t", "Temperature", "K"),
        (0, 0, 6) if hag && level == 2.0 => ("2d", "2 metre dewpoint temperature", "K"),
        (0, 0, 17) => ("skt", "Skin temperature", "K"),
        (0, 1, 0) => ("q", "Specific humidity", "kg kg**-1"),
        (0, 1, 1) => ("r", "Relative humidity", "%"),
        (0, 2, 2) if hag && level == 10.0 => ("10u", "10 metre U wind component", "m s**-1"),
        (0, 2, 2) => ("u", "U component of wind", "m s**-1"),
        (0, 2, 3) if hag && level == 10.0 => ("10v", "10 metre V wind component", "m s**-1"),
        (0, 2, 3) => ("v", "V component of wind", "m s**-1"),
        (0, 2, 8) => ("w", "Vertical velocity", "Pa s**-1"),
        (0, 2, 12) => ("vo", "Vorticity (relative)", "s**-1"),
        (0, 3, 0) if surface == 101 => ("msl", "Mean sea level pressure", "Pa"),
        (0, 3, 0) if surface == 1 => ("sp", "Surface pressure", "Pa"),
        (0, 3, 0) => ("pres", "Pressure", "Pa"),
        (0, 3, 1) => ("prmsl", "Pressure reduced to MSL", "Pa"),
        (0, 3, 4) => ("z", "Geopotential", "m**2 s**-2"),
        (0, 3, 5) => ("gh", "Geopotential height", "gpm"),
        (2, 0, 0) => ("lsm", "Land-sea mask", "(0 - 1)"),
        (10, 3, 0) => ("sst", "Sea surface temperature", "K"),
        _ => return None,
    })
}

/// GRIB1 level type (code table 3) → ecCodes `typeOfLevel`, and whether octets 11–12 hold
/// two one-byte values (a layer) rather than one two-byte value.
pub(crate) fn grib1_level_type(code: u8) -> (String, bool) {
    let (name, layer) = match code {
        1 => ("surface", false),
        2 => ("cloudBase", false),
        3 => ("cloudTop", false),
        4 => ("isothermZero", false),
        8 => ("nominalTop", false),
        100 => ("isobaricInhPa", false),
        101 => ("isobaricLayer", true),
        102 => ("meanSea", false),
        103 => ("heightAboveSea", false),
        104 => ("heightAboveSeaLayer", true),
        105 => ("heightAboveGround", false),
        106 => ("heightAboveGroundLayer", true),
        107 => ("sigma", false),
        108 => ("sigmaLayer", true),
        109 => ("hybrid", false),
        110 => ("hybridLayer", true),
        111 => ("depthBelowLand", false),
        112 => ("depthBelowLandLayer", true),
        113 => ("theta", false),
        114 => ("thetaLayer", true),
        116 => ("pressureFromGroundLayer", true),
        117 => ("potentialVorticity", false),
        120 | 121 | 128 | 141 => ("layer", true),
        160 => ("depthBelowSea", false),
        200 => ("entireAtmosphere", false),
        201 => ("entireOcean", false),
        210 => ("isobaricInPa", false),
        _ => return (format!("typeOfLevel{code}"), false),
    };
    (name.to_string(), layer)
}

/// GRIB2 fixed surface type (code table 4.5) → ecCodes `typeOfLevel`; isobaric surfaces
/// (100) are named by the caller, which knows the value.
pub(crate) fn grib2_level_type(code: u8, has_second: bool) -> String {
    match (code, has_second) {
        (1, _) => "surface",
        (2, _) => "cloudBase",
        (3, _) => "cloudTop",
        (4, _) => "isothermZero",
        (8, _) => "nominalTop",
        (10, _) => "entireAtmosphere",
        (100, true) => "isobaricLayer",
        (100, false) => "isobaricInPa",
        (101, _) => "meanSea",
        (102, _) => "heightAboveSea",
        (103, true) => "heightAboveGroundLayer",
        (103, false) => "heightAboveGround",
        (104, _) => "sigma",
        (105, _) => "hybrid",
        (106, true) => "depthBelowLandLayer",
        (106, false) => "depthBelowLand",
        (107, _) => "theta",
        (108, _) => "pressureFromGroundLayer",
        (109, _) => "potentialVorticity",
        (111, _) => "eta",
        (150, _) => "generalVertical",
        (151, _) => "soil",
        (160, _) => "depthBelowSea",
        (255, _) => "unknown",
        _ => return format!("typeOfLevel{code}"),
    }
    .to_string()
}
