-- =============================================================================
-- THE SEED'S ORIGINAL SCHEMA, MISTAKES INCLUDED. DO NOT FIX, DO NOT DEPLOY.
--
-- Copied verbatim from the product's seed document ("InvoiceFlow Backend
-- Architecture", not part of this repository: this file is the copy the tests
-- need), every ```sql block of its sections
-- "## Database Schema" (1. profiles ... 7. user_settings) and "## Triggers and
-- Functions", in the document's order. Only the "-- ### ..." lines naming each
-- block and its line range in the seed are ours; the SQL is unchanged.
--
-- tests/db/test_seed_mistakes.py applies it, after devstack/sql/platform.sql, to
-- a throw-away database of the test cluster, to show that each mistake the
-- project fixed (docs/architecture.md) really happens here, and that
-- the same scenario behaves correctly on supabase/migrations.
-- =============================================================================

-- ### 1. profiles   [seed lines 34-57]
CREATE TABLE profiles (
  id UUID REFERENCES auth.users(id) ON DELETE CASCADE PRIMARY KEY,
  first_name TEXT,
  last_name TEXT,
  phone TEXT,
  business_name TEXT,
  business_address TEXT,
  city TEXT,
  state TEXT,
  zip_code TEXT,
  country TEXT,
  created_at TIMESTAMP WITH TIME ZONE DEFAULT TIMEZONE('utc'::text, NOW()) NOT NULL,
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT TIMEZONE('utc'::text, NOW()) NOT NULL
);

-- Enable RLS
ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;

-- Policy: Users can only access their own profile
CREATE POLICY "Users can view own profile" ON profiles
  FOR SELECT USING (auth.uid() = id);

CREATE POLICY "Users can update own profile" ON profiles
  FOR UPDATE USING (auth.uid() = id);

-- ### 2. clients   [seed lines 62-99]
CREATE TABLE clients (
  id UUID DEFAULT gen_random_uuid() PRIMARY KEY,
  user_id UUID REFERENCES profiles(id) ON DELETE CASCADE NOT NULL,
  company_name TEXT NOT NULL,
  contact_person TEXT,
  email TEXT,
  phone TEXT,
  address TEXT,
  total_billed DECIMAL(10,2) DEFAULT 0,
  last_invoice_date DATE,
  status TEXT CHECK (status IN ('active', 'inactive', 'pending')) DEFAULT 'active',
  outstanding_balance DECIMAL(10,2) DEFAULT 0,
  avatar_url TEXT,
  billing_frequency TEXT CHECK (billing_frequency IN ('monthly', 'quarterly', 'annually', 'one-time')) DEFAULT 'monthly',
  created_at TIMESTAMP WITH TIME ZONE DEFAULT TIMEZONE('utc'::text, NOW()) NOT NULL,
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT TIMEZONE('utc'::text, NOW()) NOT NULL
);

-- Enable RLS
ALTER TABLE clients ENABLE ROW LEVEL SECURITY;

-- Policy: Users can only access their own clients
CREATE POLICY "Users can view own clients" ON clients
  FOR SELECT USING (auth.uid() = user_id);

CREATE POLICY "Users can insert own clients" ON clients
  FOR INSERT WITH CHECK (auth.uid() = user_id);

CREATE POLICY "Users can update own clients" ON clients
  FOR UPDATE USING (auth.uid() = user_id);

CREATE POLICY "Users can delete own clients" ON clients
  FOR DELETE USING (auth.uid() = user_id);

-- Indexes
CREATE INDEX idx_clients_user_id ON clients(user_id);
CREATE INDEX idx_clients_status ON clients(status);
CREATE INDEX idx_clients_email ON clients(email);

-- ### 3. invoices   [seed lines 104-148]
CREATE TABLE invoices (
  id UUID DEFAULT gen_random_uuid() PRIMARY KEY,
  user_id UUID REFERENCES profiles(id) ON DELETE CASCADE NOT NULL,
  client_id UUID REFERENCES clients(id) ON DELETE CASCADE NOT NULL,
  invoice_number TEXT NOT NULL,
  issue_date DATE NOT NULL,
  due_date DATE NOT NULL,
  payment_terms TEXT DEFAULT 'net30',
  status TEXT CHECK (status IN ('draft', 'sent', 'paid', 'overdue', 'cancelled')) DEFAULT 'draft',
  subtotal DECIMAL(10,2) DEFAULT 0,
  tax_rate DECIMAL(5,2) DEFAULT 0,
  tax_amount DECIMAL(10,2) DEFAULT 0,
  discount DECIMAL(10,2) DEFAULT 0,
  total_amount DECIMAL(10,2) DEFAULT 0,
  currency TEXT DEFAULT 'USD',
  notes TEXT,
  terms TEXT,
  payment_instructions TEXT,
  template TEXT DEFAULT 'professional',
  created_at TIMESTAMP WITH TIME ZONE DEFAULT TIMEZONE('utc'::text, NOW()) NOT NULL,
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT TIMEZONE('utc'::text, NOW()) NOT NULL
);

-- Enable RLS
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;

-- Policy: Users can only access their own invoices
CREATE POLICY "Users can view own invoices" ON invoices
  FOR SELECT USING (auth.uid() = user_id);

CREATE POLICY "Users can insert own invoices" ON invoices
  FOR INSERT WITH CHECK (auth.uid() = user_id);

CREATE POLICY "Users can update own invoices" ON invoices
  FOR UPDATE USING (auth.uid() = user_id);

CREATE POLICY "Users can delete own invoices" ON invoices
  FOR DELETE USING (auth.uid() = user_id);

-- Indexes
CREATE INDEX idx_invoices_user_id ON invoices(user_id);
CREATE INDEX idx_invoices_client_id ON invoices(client_id);
CREATE INDEX idx_invoices_status ON invoices(status);
CREATE INDEX idx_invoices_due_date ON invoices(due_date);
CREATE INDEX idx_invoices_invoice_number ON invoices(invoice_number);

-- ### 4. invoice_items   [seed lines 153-204]
CREATE TABLE invoice_items (
  id UUID DEFAULT gen_random_uuid() PRIMARY KEY,
  invoice_id UUID REFERENCES invoices(id) ON DELETE CASCADE NOT NULL,
  description TEXT NOT NULL,
  quantity DECIMAL(10,2) NOT NULL,
  rate DECIMAL(10,2) NOT NULL,
  amount DECIMAL(10,2) NOT NULL,
  created_at TIMESTAMP WITH TIME ZONE DEFAULT TIMEZONE('utc'::text, NOW()) NOT NULL
);

-- Enable RLS
ALTER TABLE invoice_items ENABLE ROW LEVEL SECURITY;

-- Policy: Users can access items of their invoices
CREATE POLICY "Users can view own invoice items" ON invoice_items
  FOR SELECT USING (
    EXISTS (
      SELECT 1 FROM invoices
      WHERE invoices.id = invoice_items.invoice_id
      AND invoices.user_id = auth.uid()
    )
  );

CREATE POLICY "Users can insert own invoice items" ON invoice_items
  FOR INSERT WITH CHECK (
    EXISTS (
      SELECT 1 FROM invoices
      WHERE invoices.id = invoice_items.invoice_id
      AND invoices.user_id = auth.uid()
    )
  );

CREATE POLICY "Users can update own invoice items" ON invoice_items
  FOR UPDATE USING (
    EXISTS (
      SELECT 1 FROM invoices
      WHERE invoices.id = invoice_items.invoice_id
      AND invoices.user_id = auth.uid()
    )
  );

CREATE POLICY "Users can delete own invoice items" ON invoice_items
  FOR DELETE USING (
    EXISTS (
      SELECT 1 FROM invoices
      WHERE invoices.id = invoice_items.invoice_id
      AND invoices.user_id = auth.uid()
    )
  );

-- Indexes
CREATE INDEX idx_invoice_items_invoice_id ON invoice_items(invoice_id);

-- ### 5. payments   [seed lines 209-262]
CREATE TABLE payments (
  id UUID DEFAULT gen_random_uuid() PRIMARY KEY,
  invoice_id UUID REFERENCES invoices(id) ON DELETE CASCADE NOT NULL,
  amount DECIMAL(10,2) NOT NULL,
  payment_date DATE NOT NULL,
  payment_method TEXT CHECK (payment_method IN ('bank_transfer', 'credit_card', 'paypal', 'check', 'cash', 'other')) DEFAULT 'bank_transfer',
  reference_number TEXT,
  notes TEXT,
  created_at TIMESTAMP WITH TIME ZONE DEFAULT TIMEZONE('utc'::text, NOW()) NOT NULL
);

-- Enable RLS
ALTER TABLE payments ENABLE ROW LEVEL SECURITY;

-- Policy: Users can access payments of their invoices
CREATE POLICY "Users can view own payments" ON payments
  FOR SELECT USING (
    EXISTS (
      SELECT 1 FROM invoices
      WHERE invoices.id = payments.invoice_id
      AND invoices.user_id = auth.uid()
    )
  );

CREATE POLICY "Users can insert own payments" ON payments
  FOR INSERT WITH CHECK (
    EXISTS (
      SELECT 1 FROM invoices
      WHERE invoices.id = payments.invoice_id
      AND invoices.user_id = auth.uid()
    )
  );

CREATE POLICY "Users can update own payments" ON payments
  FOR UPDATE USING (
    EXISTS (
      SELECT 1 FROM invoices
      WHERE invoices.id = payments.invoice_id
      AND invoices.user_id = auth.uid()
    )
  );

CREATE POLICY "Users can delete own payments" ON payments
  FOR DELETE USING (
    EXISTS (
      SELECT 1 FROM invoices
      WHERE invoices.id = payments.invoice_id
      AND invoices.user_id = auth.uid()
    )
  );

-- Indexes
CREATE INDEX idx_payments_invoice_id ON payments(invoice_id);
CREATE INDEX idx_payments_payment_date ON payments(payment_date);

-- ### 6. client_activities   [seed lines 267-301]
CREATE TABLE client_activities (
  id UUID DEFAULT gen_random_uuid() PRIMARY KEY,
  client_id UUID REFERENCES clients(id) ON DELETE CASCADE NOT NULL,
  activity TEXT NOT NULL,
  timestamp TIMESTAMP WITH TIME ZONE DEFAULT TIMEZONE('utc'::text, NOW()) NOT NULL,
  type TEXT CHECK (type IN ('new', 'communication', 'payment', 'invoice_sent', 'invoice_overdue', 'other')) DEFAULT 'other',
  metadata JSONB
);

-- Enable RLS
ALTER TABLE client_activities ENABLE ROW LEVEL SECURITY;

-- Policy: Users can access activities of their clients
CREATE POLICY "Users can view own client activities" ON client_activities
  FOR SELECT USING (
    EXISTS (
      SELECT 1 FROM clients
      WHERE clients.id = client_activities.client_id
      AND clients.user_id = auth.uid()
    )
  );

CREATE POLICY "Users can insert own client activities" ON client_activities
  FOR INSERT WITH CHECK (
    EXISTS (
      SELECT 1 FROM clients
      WHERE clients.id = client_activities.client_id
      AND clients.user_id = auth.uid()
    )
  );

-- Indexes
CREATE INDEX idx_client_activities_client_id ON client_activities(client_id);
CREATE INDEX idx_client_activities_timestamp ON client_activities(timestamp);
CREATE INDEX idx_client_activities_type ON client_activities(type);

-- ### 7. user_settings   [seed lines 306-349]
CREATE TABLE user_settings (
  id UUID DEFAULT gen_random_uuid() PRIMARY KEY,
  user_id UUID REFERENCES profiles(id) ON DELETE CASCADE NOT NULL,
  company_logo_url TEXT,
  default_template TEXT DEFAULT 'professional',
  default_payment_terms TEXT DEFAULT 'net30',
  default_tax_rate DECIMAL(5,2) DEFAULT 0,
  tax_label TEXT DEFAULT 'Tax',
  invoice_prefix TEXT DEFAULT 'INV-',
  invoice_footer TEXT,
  email_notifications JSONB DEFAULT '{
    "paymentReceived": true,
    "invoiceOverdue": true,
    "paymentReminder": true,
    "newClient": true,
    "weeklyReport": true,
    "monthlyReport": true
  }',
  push_notifications JSONB DEFAULT '{
    "paymentReceived": true,
    "invoiceOverdue": true,
    "systemUpdates": true
  }',
  reminder_settings JSONB DEFAULT '{
    "daysBeforeDue": "7",
    "overdueFrequency": "daily"
  }',
  created_at TIMESTAMP WITH TIME ZONE DEFAULT TIMEZONE('utc'::text, NOW()) NOT NULL,
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT TIMEZONE('utc'::text, NOW()) NOT NULL,
  UNIQUE(user_id)
);

-- Enable RLS
ALTER TABLE user_settings ENABLE ROW LEVEL SECURITY;

-- Policy: Users can only access their own settings
CREATE POLICY "Users can view own settings" ON user_settings
  FOR SELECT USING (auth.uid() = user_id);

CREATE POLICY "Users can insert own settings" ON user_settings
  FOR INSERT WITH CHECK (auth.uid() = user_id);

CREATE POLICY "Users can update own settings" ON user_settings
  FOR UPDATE USING (auth.uid() = user_id);

-- ### Update updated_at columns   [seed lines 356-368]
CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
  NEW.updated_at = TIMEZONE('utc'::text, NOW());
  RETURN NEW;
END;
$$ language 'plpgsql';

-- Apply to all tables with updated_at
CREATE TRIGGER update_profiles_updated_at BEFORE UPDATE ON profiles FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_clients_updated_at BEFORE UPDATE ON clients FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_invoices_updated_at BEFORE UPDATE ON invoices FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_user_settings_updated_at BEFORE UPDATE ON user_settings FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ### Auto-create profile on user signup   [seed lines 373-384]
CREATE OR REPLACE FUNCTION public.handle_new_user()
RETURNS TRIGGER AS $$
BEGIN
  INSERT INTO public.profiles (id, first_name, last_name, email)
  VALUES (NEW.id, NEW.raw_user_meta_data->>'first_name', NEW.raw_user_meta_data->>'last_name', NEW.email);
  RETURN NEW;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER;

CREATE TRIGGER on_auth_user_created
  AFTER INSERT ON auth.users
  FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();

-- ### Update client totals trigger   [seed lines 389-426]
CREATE OR REPLACE FUNCTION update_client_totals()
RETURNS TRIGGER AS $$
BEGIN
  -- Update total_billed and last_invoice_date for the client
  UPDATE clients
  SET
    total_billed = (
      SELECT COALESCE(SUM(total_amount), 0)
      FROM invoices
      WHERE client_id = COALESCE(NEW.client_id, OLD.client_id)
      AND status IN ('sent', 'paid', 'overdue')
    ),
    last_invoice_date = (
      SELECT MAX(issue_date)
      FROM invoices
      WHERE client_id = COALESCE(NEW.client_id, OLD.client_id)
      AND status IN ('sent', 'paid', 'overdue')
    ),
    outstanding_balance = (
      SELECT COALESCE(SUM(total_amount), 0) - COALESCE(SUM(payments.amount), 0)
      FROM invoices
      LEFT JOIN payments ON invoices.id = payments.invoice_id
      WHERE invoices.client_id = COALESCE(NEW.client_id, OLD.client_id)
      AND invoices.status IN ('sent', 'overdue')
    )
  WHERE id = COALESCE(NEW.client_id, OLD.client_id);

  RETURN COALESCE(NEW, OLD);
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER update_client_totals_on_invoice_change
  AFTER INSERT OR UPDATE OR DELETE ON invoices
  FOR EACH ROW EXECUTE FUNCTION update_client_totals();

CREATE TRIGGER update_client_totals_on_payment_change
  AFTER INSERT OR UPDATE OR DELETE ON payments
  FOR EACH ROW EXECUTE FUNCTION update_client_totals();

-- ### Update invoice totals trigger   [seed lines 431-459]
CREATE OR REPLACE FUNCTION update_invoice_totals()
RETURNS TRIGGER AS $$
DECLARE
  inv RECORD;
BEGIN
  -- Get the invoice
  SELECT * INTO inv FROM invoices WHERE id = COALESCE(NEW.invoice_id, OLD.invoice_id);

  -- Update subtotal, tax_amount, total_amount
  UPDATE invoices
  SET
    subtotal = COALESCE((
      SELECT SUM(amount) FROM invoice_items WHERE invoice_id = inv.id
    ), 0),
    tax_amount = COALESCE((
      SELECT SUM(amount) FROM invoice_items WHERE invoice_id = inv.id
    ), 0) * (inv.tax_rate / 100),
    total_amount = COALESCE((
      SELECT SUM(amount) FROM invoice_items WHERE invoice_id = inv.id
    ), 0) * (1 + inv.tax_rate / 100) - inv.discount
  WHERE id = inv.id;

  RETURN COALESCE(NEW, OLD);
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER update_invoice_totals_on_item_change
  AFTER INSERT OR UPDATE OR DELETE ON invoice_items
  FOR EACH ROW EXECUTE FUNCTION update_invoice_totals();
