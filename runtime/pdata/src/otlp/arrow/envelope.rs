//! The `resources` and `scopes` tables, which every signal shares, and the
//! grouping of rows back into OTLP's nesting on encode.

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder, StringDictionaryBuilder};
use arrow_array::types::UInt32Type;
use arrow_array::{Array, ArrayRef, PrimitiveArray, RecordBatch, StructArray, UInt32Array};
use arrow_schema::{DataType, Field};
use opentelemetry_proto::tonic::common::v1::{EntityRef, InstrumentationScope};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::attrs::{AttrsBuilder, AttrsReader};
use super::columns::{Cols, Groups, IdIndex, ListCol, OffsetsBuilder, Prim, StrCol};
use crate::schema::{self, entity_ref as er, resource as rc, scope as sc};
use crate::{PdataError, Signal, SignalTables};

/// The next id of a table that has `rows` rows.
pub(crate) fn next_id(rows: usize, what: &'static str) -> Result<u32, PdataError> {
    u32::try_from(rows).map_err(|_| PdataError::InvalidValue {
        field: what,
        reason: "more than 2^32 in one request".to_string(),
    })
}

fn ids(n: usize) -> UInt32Array {
    // `next_id` refused every row past u32::MAX.
    UInt32Array::from_iter_values((0..n).map(|i| u32::try_from(i).unwrap_or(u32::MAX)))
}

fn string_list_builder(capacity: usize) -> ListBuilder<StringBuilder> {
    ListBuilder::with_capacity(StringBuilder::new(), capacity)
        .with_field(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

/// Builds the `resources.entity_refs` column.
struct EntityRefsBuilder {
    offsets: OffsetsBuilder,
    len: usize,
    schema_url: StringBuilder,
    ty: StringBuilder,
    id_keys: ListBuilder<StringBuilder>,
    description_keys: ListBuilder<StringBuilder>,
}

impl EntityRefsBuilder {
    fn with_capacity(rows: usize) -> Self {
        EntityRefsBuilder {
            offsets: OffsetsBuilder::with_capacity(rows),
            len: 0,
            schema_url: StringBuilder::new(),
            ty: StringBuilder::new(),
            id_keys: string_list_builder(0),
            description_keys: string_list_builder(0),
        }
    }

    fn append_row(&mut self, refs: &[EntityRef]) {
        for r in refs {
            self.schema_url.append_value(&r.schema_url);
            self.ty.append_value(&r.r#type);
            for k in &r.id_keys {
                self.id_keys.values().append_value(k);
            }
            self.id_keys.append(true);
            for k in &r.description_keys {
                self.description_keys.values().append_value(k);
            }
            self.description_keys.append(true);
        }
        self.len += refs.len();
        self.offsets.close(self.len);
    }

    fn finish(mut self) -> Result<ArrayRef, PdataError> {
        let offsets = self.offsets.finish(self.len)?;
        let values = StructArray::try_new(
            schema::entity_ref_fields(),
            vec![
                Arc::new(self.schema_url.finish()),
                Arc::new(self.ty.finish()),
                Arc::new(self.id_keys.finish()),
                Arc::new(self.description_keys.finish()),
            ],
            None,
        )?;
        let item = Arc::new(Field::new_list_field(values.data_type().clone(), true));
        Ok(Arc::new(arrow_array::ListArray::try_new(
            item,
            offsets,
            Arc::new(values),
            None,
        )?))
    }
}

/// Builds the `resources` table; ids are the row numbers.
pub(crate) struct ResourcesBuilder {
    len: usize,
    attrs: AttrsBuilder,
    dropped: Vec<u32>,
    entity_refs: EntityRefsBuilder,
    schema_url: StringBuilder,
}

impl ResourcesBuilder {
    /// A builder for `rows` resources.
    pub(crate) fn with_capacity(rows: usize) -> Self {
        ResourcesBuilder {
            len: 0,
            attrs: AttrsBuilder::with_capacity(rows, rows * 8),
            dropped: Vec::with_capacity(rows),
            entity_refs: EntityRefsBuilder::with_capacity(rows),
            schema_url: StringBuilder::with_capacity(rows, rows * 32),
        }
    }

    /// Appends a `Resource*` message's resource and schema URL; returns the
    /// row's id.
    pub(crate) fn append(
        &mut self,
        resource: Option<&Resource>,
        schema_url: &str,
    ) -> Result<u32, PdataError> {
        let id = next_id(self.len, "resources")?;
        match resource {
            Some(r) => {
                self.attrs.append_row(&r.attributes);
                self.dropped.push(r.dropped_attributes_count);
                self.entity_refs.append_row(&r.entity_refs);
            }
            None => {
                self.attrs.append_null_row();
                self.dropped.push(0);
                self.entity_refs.append_row(&[]);
            }
        }
        self.schema_url.append_value(schema_url);
        self.len += 1;
        Ok(id)
    }

    /// The table.
    pub(crate) fn finish(mut self) -> Result<RecordBatch, PdataError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(ids(self.len)),
            Arc::new(self.attrs.finish()?),
            Arc::new(UInt32Array::from(self.dropped)),
            self.entity_refs.finish()?,
            Arc::new(self.schema_url.finish()),
        ];
        Ok(RecordBatch::try_new(schema::resources(), columns)?)
    }
}

/// Builds the `scopes` table; ids are the row numbers.
pub(crate) struct ScopesBuilder {
    resource_id: Vec<u32>,
    name: StringDictionaryBuilder<UInt32Type>,
    version: StringBuilder,
    attrs: AttrsBuilder,
    dropped: Vec<u32>,
    schema_url: StringBuilder,
}

impl ScopesBuilder {
    /// A builder for `rows` scopes.
    pub(crate) fn with_capacity(rows: usize) -> Self {
        ScopesBuilder {
            resource_id: Vec::with_capacity(rows),
            name: StringDictionaryBuilder::with_capacity(rows, rows, rows * 16),
            version: StringBuilder::with_capacity(rows, rows * 8),
            attrs: AttrsBuilder::with_capacity(rows, rows),
            dropped: Vec::with_capacity(rows),
            schema_url: StringBuilder::with_capacity(rows, rows * 32),
        }
    }

    /// Appends a `Scope*` message's scope and schema URL, belonging to
    /// resource `resource_id`; returns the row's id.
    pub(crate) fn append(
        &mut self,
        resource_id: u32,
        scope: Option<&InstrumentationScope>,
        schema_url: &str,
    ) -> Result<u32, PdataError> {
        let id = next_id(self.resource_id.len(), "scopes")?;
        self.resource_id.push(resource_id);
        match scope {
            Some(s) => {
                self.name.append_value(&s.name);
                self.version.append_value(&s.version);
                self.attrs.append_row(&s.attributes);
                self.dropped.push(s.dropped_attributes_count);
            }
            None => {
                self.name.append_value("");
                self.version.append_value("");
                self.attrs.append_null_row();
                self.dropped.push(0);
            }
        }
        self.schema_url.append_value(schema_url);
        Ok(id)
    }

    /// The table.
    pub(crate) fn finish(mut self) -> Result<RecordBatch, PdataError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(ids(self.resource_id.len())),
            Arc::new(UInt32Array::from(self.resource_id)),
            Arc::new(self.name.finish()),
            Arc::new(self.version.finish()),
            Arc::new(self.attrs.finish()?),
            Arc::new(UInt32Array::from(self.dropped)),
            Arc::new(self.schema_url.finish()),
        ];
        Ok(RecordBatch::try_new(schema::scopes(), columns)?)
    }
}

/// A list of strings, or none.
pub(super) struct StrList<'a> {
    pub(super) list: ListCol<'a>,
    pub(super) values: StrCol<'a>,
}

impl<'a> StrList<'a> {
    fn new(cols: &Cols<'a>, name: &str) -> Result<Self, PdataError> {
        let list = cols.list(name)?;
        let values = match list.0 {
            None => StrCol::Missing,
            Some(l) => StrCol::new(l.values().as_ref())
                .ok_or_else(|| cols.err(name, "not a list of strings"))?,
        };
        Ok(StrList { list, values })
    }

    fn get(&self, i: usize) -> Vec<String> {
        self.list
            .range(i)
            .map(|r| r.map(|j| self.values.get(j).to_owned()).collect())
            .unwrap_or_default()
    }
}

/// Reads `resources.entity_refs`.
pub(super) struct EntityRefsReader<'a> {
    pub(super) list: ListCol<'a>,
    pub(super) fields: Option<(StrCol<'a>, StrCol<'a>, StrList<'a>, StrList<'a>)>,
}

impl<'a> EntityRefsReader<'a> {
    fn new(cols: &Cols<'a>) -> Result<Self, PdataError> {
        let list = cols.list(rc::ENTITY_REFS)?;
        let fields = match list.struct_values(cols, rc::ENTITY_REFS)? {
            None => None,
            Some(values) => {
                let c = Cols::of_struct(cols.signal(), rc::ENTITY_REFS, values);
                Some((
                    c.str(er::SCHEMA_URL)?,
                    c.str(er::TYPE)?,
                    StrList::new(&c, er::ID_KEYS)?,
                    StrList::new(&c, er::DESCRIPTION_KEYS)?,
                ))
            }
        };
        Ok(EntityRefsReader { list, fields })
    }

    fn get(&self, i: usize) -> Vec<EntityRef> {
        let (Some(range), Some((url, ty, ids, descs))) = (self.list.range(i), &self.fields) else {
            return Vec::new();
        };
        range
            .map(|j| EntityRef {
                schema_url: url.get(j).to_owned(),
                r#type: ty.get(j).to_owned(),
                id_keys: ids.get(j),
                description_keys: descs.get(j),
            })
            .collect()
    }
}

/// Reads the `resources` table.
pub(crate) struct ResourcesReader<'a> {
    pub(super) ids: &'a PrimitiveArray<UInt32Type>,
    pub(super) attrs: AttrsReader<'a>,
    pub(super) dropped: Prim<'a, UInt32Type>,
    pub(super) entity_refs: EntityRefsReader<'a>,
    pub(super) schema_url: StrCol<'a>,
}

impl<'a> ResourcesReader<'a> {
    fn new(signal: Signal, batch: &'a RecordBatch) -> Result<Self, PdataError> {
        let cols = Cols::of_batch(signal, "resources", batch);
        Ok(ResourcesReader {
            ids: cols.ids(rc::ID)?,
            attrs: AttrsReader::new(&cols, rc::ATTRIBUTES)?,
            dropped: cols.prim(rc::DROPPED_ATTRIBUTES_COUNT)?,
            entity_refs: EntityRefsReader::new(&cols)?,
            schema_url: cols.str(rc::SCHEMA_URL)?,
        })
    }

    /// The number of resources.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The `Resource` message of row `i` (`None` when its attributes are
    /// null).
    pub(crate) fn resource(&self, i: usize) -> Result<Option<Resource>, PdataError> {
        let Some(attributes) = self.attrs.opt(i)? else {
            return Ok(None);
        };
        Ok(Some(Resource {
            attributes,
            dropped_attributes_count: self.dropped.get(i),
            entity_refs: self.entity_refs.get(i),
        }))
    }

    /// The schema URL of row `i`.
    pub(crate) fn schema_url(&self, i: usize) -> String {
        self.schema_url.get(i).to_owned()
    }
}

/// Reads the `scopes` table.
pub(crate) struct ScopesReader<'a> {
    pub(super) ids: &'a PrimitiveArray<UInt32Type>,
    pub(super) resource_ids: &'a PrimitiveArray<UInt32Type>,
    pub(super) name: StrCol<'a>,
    pub(super) version: StrCol<'a>,
    pub(super) attrs: AttrsReader<'a>,
    pub(super) dropped: Prim<'a, UInt32Type>,
    pub(super) schema_url: StrCol<'a>,
}

impl<'a> ScopesReader<'a> {
    fn new(signal: Signal, batch: &'a RecordBatch) -> Result<Self, PdataError> {
        let cols = Cols::of_batch(signal, "scopes", batch);
        Ok(ScopesReader {
            ids: cols.ids(sc::ID)?,
            resource_ids: cols.ids(sc::RESOURCE_ID)?,
            name: cols.str(sc::NAME)?,
            version: cols.str(sc::VERSION)?,
            attrs: AttrsReader::new(&cols, sc::ATTRIBUTES)?,
            dropped: cols.prim(sc::DROPPED_ATTRIBUTES_COUNT)?,
            schema_url: cols.str(sc::SCHEMA_URL)?,
        })
    }

    /// The `InstrumentationScope` of row `i` (`None` when its attributes
    /// are null).
    pub(crate) fn scope(&self, i: usize) -> Result<Option<InstrumentationScope>, PdataError> {
        let Some(attributes) = self.attrs.opt(i)? else {
            return Ok(None);
        };
        Ok(Some(InstrumentationScope {
            name: self.name.get(i).to_owned(),
            version: self.version.get(i).to_owned(),
            attributes,
            dropped_attributes_count: self.dropped.get(i),
        }))
    }

    /// The schema URL of row `i`.
    pub(crate) fn schema_url(&self, i: usize) -> String {
        self.schema_url.get(i).to_owned()
    }
}

/// The resources and scopes of a batch, with every row of scopes and
/// records assigned to its parent row.
pub(crate) struct Envelope<'a> {
    /// The resources.
    pub(crate) resources: ResourcesReader<'a>,
    /// The scopes.
    pub(crate) scopes: ScopesReader<'a>,
    scopes_of: Groups,
    records_of: Groups,
}

impl<'a> Envelope<'a> {
    /// Reads the resources and scopes of `tables` and groups scopes by
    /// resource and records (whose `scope_id` column is `scope_ids`) by
    /// scope, keeping table order within each group.
    pub(crate) fn new(
        signal: Signal,
        tables: &'a SignalTables,
        scope_ids: &PrimitiveArray<UInt32Type>,
    ) -> Result<Self, PdataError> {
        let resources = ResourcesReader::new(signal, &tables.resources)?;
        let scopes = ScopesReader::new(signal, &tables.scopes)?;
        let scopes_of = group(
            signal,
            IdIndex::new(signal, "resources.id", resources.ids)?,
            resources.len(),
            scopes.resource_ids,
            "scopes.resource_id",
        )?;
        let records_of = group(
            signal,
            IdIndex::new(signal, "scopes.id", scopes.ids)?,
            scopes.ids.len(),
            scope_ids,
            "records.scope_id",
        )?;
        Ok(Envelope {
            resources,
            scopes,
            scopes_of,
            records_of,
        })
    }

    /// The scope rows of resource row `resource`.
    pub(crate) fn scopes_of(&self, resource: usize) -> &[usize] {
        self.scopes_of.children(resource)
    }

    /// The record rows of scope row `scope`.
    pub(crate) fn records_of(&self, scope: usize) -> &[usize] {
        self.records_of.children(scope)
    }
}

fn group(
    signal: Signal,
    index: IdIndex,
    parents: usize,
    refs: &PrimitiveArray<UInt32Type>,
    what: &str,
) -> Result<Groups, PdataError> {
    if refs.null_count() > 0 {
        return Err(super::columns::schema_err(
            signal,
            format!("{what} has nulls"),
        ));
    }
    let parent_of = refs
        .values()
        .iter()
        .map(|&id| {
            index.row(id).ok_or_else(|| {
                super::columns::schema_err(signal, format!("{what} {id} references no row"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Groups::new(parents, &parent_of))
}
