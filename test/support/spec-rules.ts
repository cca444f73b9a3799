/**
 * The rules Airbyte's connector acceptance tests (CAT, TestSpec) apply to a connector's
 * connectionSpecification, written out for our own tests, plus a few of our own (marked "ours").
 * Each rule returns its violations as readable strings; an empty list means the spec passes.
 */

type Schema = Record<string, unknown>;

/** Property names CAT's test_secret_is_properly_marked treats as secrets (compared lowercased). */
export const CAT_SECRET_NAMES = [
  'client_token',
  'access_token',
  'api_token',
  'token',
  'secret',
  'client_secret',
  'password',
  'key',
  'service_account_info',
  'service_account',
  'tenant_id',
  'certificate',
  'jwt',
  'credentials',
  'app_id',
  'appid',
  'refresh_token',
];

/** Keywords CAT's test_forbidden_complex_types refuses anywhere but as property names. */
export const FORBIDDEN_KEYWORDS = [
  'not',
  'anyOf',
  'patternProperties',
  'prefixItems',
  'allOf',
  'if',
  'then',
  'else',
  'dependentSchemas',
  'dependentRequired',
];

/** The date patterns CAT's test_date_pattern/test_date_format expect next to `format`. */
export const CAT_DATE_PATTERN = '^[0-9]{2}-[0-9]{2}-[0-9]{4}$';
export const CAT_DATETIME_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2})?$';
/** The ISO date pattern this spec uses with `format: date` (the APIs take YYYY-MM-DD). */
export const ISO_DATE_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}$';

/** A property schema, its name and its path (`apns.channel_ids[]`). */
export interface PropertyNode {
  name: string;
  path: string;
  schema: Schema;
  /** Directly under the root's `properties`. */
  topLevel: boolean;
}

const isObj = (v: unknown): v is Schema => !!v && typeof v === 'object' && !Array.isArray(v);

/** Every property schema under the root (through nested `properties` and array `items`). */
export function properties(root: Schema): PropertyNode[] {
  const out: PropertyNode[] = [];
  const walk = (schema: Schema, path: string, topLevel: boolean) => {
    if (isObj(schema.properties)) {
      for (const [name, child] of Object.entries(schema.properties)) {
        if (!isObj(child)) continue;
        const p = path ? `${path}.${name}` : name;
        out.push({ name, path: p, schema: child, topLevel });
        walk(child, p, false);
      }
    }
    if (isObj(schema.items)) walk(schema.items, `${path}[]`, false);
    for (const key of ['oneOf', 'anyOf'])
      if (Array.isArray(schema[key]))
        (schema[key] as unknown[]).forEach(
          (v, i) => isObj(v) && walk(v, `${path}.${key}[${i}]`, false),
        );
  };
  walk(root, '', true);
  return out;
}

/** Every schema node (root, properties, items, variants), with a JSON-pointer-ish path. */
function nodes(root: Schema): { path: string; schema: Schema; parentKey?: string }[] {
  const out: { path: string; schema: Schema; parentKey?: string }[] = [];
  const walk = (v: unknown, path: string, parentKey?: string) => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}/${i}`, parentKey));
    if (!isObj(v)) return;
    out.push({ path, schema: v, parentKey });
    for (const [k, child] of Object.entries(v)) walk(child, `${path}/${k}`, k);
  };
  walk(root, '');
  return out;
}

const typesOf = (s: Schema): string[] =>
  Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : [];

export const SPEC_RULES: Record<string, (root: Schema) => string[]> = {
  /** CAT test_secret_is_properly_marked, plus ours: names ending in token/key/secret/password. */
  secrets(root) {
    const problems: string[] = [];
    for (const p of properties(root)) {
      const lower = p.name.toLowerCase();
      const canHold =
        typesOf(p.schema).some((t) => ['string', 'integer', 'number'].includes(t)) &&
        !p.schema.const;
      const secret = p.schema.airbyte_secret === true;
      const named =
        CAT_SECRET_NAMES.includes(lower) || /(^|_)(token|key|secret|password)$/.test(lower);
      if (named && canHold && !secret) problems.push(`${p.path} must have airbyte_secret: true`);
      if (secret && !canHold) problems.push(`${p.path} cannot hold a secret but is marked one`);
      if (secret && ('examples' in p.schema || 'default' in p.schema))
        problems.push(`${p.path} is a secret with an example or default (ours)`);
    }
    return problems;
  },

  /** CAT test_forbidden_complex_types. */
  forbiddenKeywords(root) {
    return nodes(root).flatMap(({ path, schema, parentKey }) =>
      parentKey === 'properties'
        ? []
        : FORBIDDEN_KEYWORDS.filter((k) => k in schema).map((k) => `${path}: ${k} is not allowed`),
    );
  },

  /** CAT test_property_type_is_not_array: one type, or [T, "null"]. */
  singleType(root) {
    return properties(root).flatMap((p) => {
      const t = p.schema.type;
      if (!Array.isArray(t)) return [];
      if (t.length === 1 || (t.length === 2 && t[1] === 'null')) return [];
      return [`${p.path}: type ${JSON.stringify(t)} is neither T nor [T, "null"]`];
    });
  },

  /** CAT test_object_not_empty: every nested object declares properties (or a oneOf). */
  objectsNotEmpty(root) {
    return nodes(root).flatMap(({ path, schema }) =>
      path !== '' &&
      typesOf(schema).includes('object') &&
      !('oneOf' in schema) &&
      (!isObj(schema.properties) || Object.keys(schema.properties).length === 0)
        ? [`${path} is an object without properties`]
        : [],
    );
  },

  /** CAT test_array_type: `items` is one schema of type object/string/number/integer, or an enum. */
  arrayItems(root) {
    return nodes(root).flatMap(({ path, schema }) => {
      if (schema.type !== 'array' || schema.items === undefined) return [];
      const items = schema.items;
      if (!isObj(items)) return [`${path}: items must be a single schema`];
      if (
        !['object', 'string', 'number', 'integer'].includes(items.type as string) &&
        !('enum' in items)
      )
        return [`${path}: items must be object, string, number, integer or an enum`];
      return [];
    });
  },

  /** CAT test_duplicate_order: no two properties of one object share an order within a group. */
  uniqueOrder(root) {
    return nodes(root).flatMap(({ path, schema }) => {
      if (schema.type !== 'object' || !isObj(schema.properties)) return [];
      const seen = new Set<string>();
      const problems: string[] = [];
      for (const child of Object.values(schema.properties)) {
        if (!isObj(child) || child.order === undefined) continue;
        const key = `${String(child.group ?? '')}\u0000${String(child.order)}`;
        if (seen.has(key)) problems.push(`${path}: duplicate order ${String(child.order)}`);
        seen.add(key);
      }
      return problems;
    });
  },

  /** CAT test_nested_group: `group` only on top-level properties; ours: declared in `groups`. */
  groups(root) {
    const declared = Array.isArray(root.groups)
      ? (root.groups as Schema[]).map((g) => g.id as string)
      : [];
    return properties(root).flatMap((p) => {
      if (p.schema.group === undefined) return [];
      if (!p.topLevel) return [`${p.path}: group is only allowed on top-level properties`];
      if (declared.length && !declared.includes(p.schema.group as string))
        return [`${p.path}: group ${String(p.schema.group)} is not declared in groups (ours)`];
      return [];
    });
  },

  /** CAT test_display_type: only next to oneOf, and dropdown or radio. */
  displayType(root) {
    return properties(root).flatMap((p) =>
      p.schema.display_type === undefined
        ? []
        : !('oneOf' in p.schema) || !['dropdown', 'radio'].includes(p.schema.display_type as string)
          ? [`${p.path}: display_type needs a oneOf and must be dropdown or radio`]
          : [],
    );
  },

  /** CAT test_additional_properties_is_true. */
  additionalPropertiesTrue(root) {
    return nodes(root).flatMap(({ path, schema }) =>
      'additionalProperties' in schema && schema.additionalProperties !== true
        ? [`${path}: additionalProperties must be true when set`]
        : [],
    );
  },

  /** CAT test_defined_refs_exist_in_json_spec_file: no $ref. */
  noRefs(root) {
    return nodes(root).flatMap(({ path, schema }) => ('$ref' in schema ? [`${path}: $ref`] : []));
  },

  /** CAT test_enum_usage: enum values are distinct. */
  distinctEnums(root) {
    return nodes(root).flatMap(({ path, schema }) =>
      Array.isArray(schema.enum) && new Set(schema.enum).size !== schema.enum.length
        ? [`${path}: enum has duplicates`]
        : [],
    );
  },

  /** CAT test_oneof_usage. */
  oneOf(root) {
    const problems: string[] = [];
    for (const { path, schema } of nodes(root)) {
      for (const key of ['oneOf', 'anyOf']) {
        if (!Array.isArray(schema[key])) continue;
        const variants = schema[key] as Schema[];
        if (schema.type !== 'object') problems.push(`${path}: ${key} parent must be type object`);
        if (!variants.every((v) => isObj(v.properties))) {
          problems.push(`${path}: every ${key} variant needs properties`);
          continue;
        }
        const props = variants.map((v) => new Set(Object.keys(v.properties as Schema)));
        const common = [...props[0]].filter((k) => props.every((s) => s.has(k)));
        const consts = common.filter((k) =>
          variants.every((v) => 'const' in ((v.properties as Schema)[k] as Schema)),
        );
        if (consts.length !== 1) {
          problems.push(`${path}: ${key} variants need exactly one common const property`);
          continue;
        }
        for (const v of variants) {
          const prop = (v.properties as Schema)[consts[0]] as Schema;
          if ('default' in prop && prop.default !== prop.const)
            problems.push(`${path}: default differs from const`);
          if ('enum' in prop && JSON.stringify(prop.enum) !== JSON.stringify([prop.const]))
            problems.push(`${path}: enum must be [const]`);
        }
      }
    }
    return problems;
  },

  /**
   * CAT test_date_pattern/test_date_format (warnings there). A `format: date` comes with a date
   * pattern and a date pattern with `format: date`. CAT's own DATE_PATTERN is DD-MM-YYYY; this
   * spec's dates are ISO (the vendors' APIs take YYYY-MM-DD), so CAT prints its warning for
   * start_date, and this rule accepts either pattern.
   */
  datePatterns(root) {
    const problems: string[] = [];
    const datePatterns = [ISO_DATE_PATTERN, CAT_DATE_PATTERN];
    // Or one that says more: YYYY-MM-DD of real calendar dates only.
    const calendar = (pattern: unknown) => {
      if (typeof pattern !== 'string') return false;
      const re = new RegExp(pattern);
      return (
        re.test('2024-02-29') && !['2026-02-29', '2026-13-01', '2026-1-01'].some((d) => re.test(d))
      );
    };
    for (const p of properties(root)) {
      const { format, pattern } = p.schema;
      if (format === 'date' && !datePatterns.includes(pattern as string) && !calendar(pattern))
        problems.push(`${p.path}: format date without a date pattern`);
      if (format === 'date-time' && pattern !== CAT_DATETIME_PATTERN)
        problems.push(`${p.path}: format date-time without the date-time pattern`);
      if (datePatterns.includes(pattern as string) && format !== 'date')
        problems.push(`${p.path}: a date pattern without format date`);
      if (pattern === CAT_DATETIME_PATTERN && format !== 'date-time')
        problems.push(`${p.path}: a date-time pattern without format date-time`);
    }
    return problems;
  },

  /** Ours: the form is self-explaining and ordered. */
  uiComplete(root) {
    const problems: string[] = [];
    for (const p of properties(root)) {
      if (typeof p.schema.title !== 'string' || !p.schema.title)
        problems.push(`${p.path}: no title`);
      if (typeof p.schema.description !== 'string' || (p.schema.description as string).length < 20)
        problems.push(`${p.path}: no useful description`);
      if (!Number.isInteger(p.schema.order)) problems.push(`${p.path}: no order`);
      if (p.topLevel && typeof p.schema.group !== 'string') problems.push(`${p.path}: no group`);
      if ('pattern' in p.schema && typeof p.schema.pattern_descriptor !== 'string')
        problems.push(`${p.path}: a pattern without pattern_descriptor`);
      if ('examples' in p.schema && !Array.isArray(p.schema.examples))
        problems.push(`${p.path}: examples must be a list`);
    }
    for (const { path, schema } of nodes(root))
      if (schema.type === 'array' && isObj(schema.items) && 'pattern' in schema.items)
        if (typeof schema.items.pattern_descriptor !== 'string')
          problems.push(`${path}/items: a pattern without pattern_descriptor`);
    return problems;
  },
};

/** All rules' violations, each prefixed with its rule. */
export function specViolations(root: Schema): string[] {
  return Object.entries(SPEC_RULES).flatMap(([name, rule]) =>
    rule(root).map((p) => `${name}: ${p}`),
  );
}
